/**
 * `atst pretrain`'s engine, in named stages: config, data, networks,
 * schedules, resume, loop. The run directory holds everything:
 *
 * ```
 * <run>/config.json              resolved TrainConfig (written first)
 * <run>/cache/index.json, shard-*.f32  decoded 16 kHz clips (cache_shards.ts)
 * <run>/log.jsonl                one JSON line per step
 * <run>/ckpt-<step>.safetensors  full training state (last K kept)
 * <run>/encoder.safetensors      teacher encoder, loadable by `atst embed`
 * ```
 *
 * Every random draw is a function of (seed, step), and the mixup memories
 * are saved in each checkpoint, so a run killed at any moment and resumed
 * ends with the same weights as one that never stopped.
 *
 * Data-parallel (`opts.world` of several ranks): `batch` stays the global
 * batch. Every rank draws every view of a step (the draws and mixup
 * memories are those of one process) and renders and trains on its own
 * share of the clips; gradients are averaged, the heads' BatchNorm is
 * synchronised, and rank 0 alone writes the run directory. ATST-Frame's
 * masks are functions of (seed, step, sample) and its loss is weighted by
 * each rank's masked tokens, so every family trains as in one process.
 *
 * @module
 */
import { join } from "node:path";
import { tf } from "../backend/tf.ts";
import { saveEncoder } from "../model/checkpoint.ts";
import { enableGradients } from "../model/gradients.ts";
import { logMel } from "../features/mel.ts";
import { Progress } from "../io/progress.ts";
import type { BatchShard } from "../model/encoder.ts";
import type { AllreduceStats } from "../dist/average_gradients.ts";
import { mixSeed } from "../rng.ts";
import { agree, type Collective, SOLO } from "../dist/world.ts";
import type { TrainConfig } from "./config.ts";
import { writeOrCheckConfig } from "./run_config.ts";
import { checkSameSettings, checkSameWeights, checkSharedDir } from "./ranks.ts";
import { prepareData } from "./data.ts";
import type { ShardClipSource } from "./cache_shards.ts";
import { TeacherStudent } from "./teacher_student.ts";
import { type Schedules, trainSchedules } from "./schedules.ts";
import {
  appendLog,
  checkpointName,
  listCheckpoints,
  loadCheckpoint,
  type LogLine,
  saveCheckpoint,
  truncateLog,
} from "./state.ts";
import {
  type ClipSource,
  cropFrames,
  cropSamples,
  MixupMemory,
  type ViewContext,
} from "./views.ts";
import { frameFeed, Sampler, type Share, STREAM, ViewFeed } from "./step_views.ts";

/** A step's log line, with the seconds the step waited for its views. */
export interface StepLine extends LogLine {
  data_wait: number;
}

/** How a session prepares its views (results do not depend on these). */
export interface SessionOptions {
  /** Log-mel of a crop (default `logMel`; tests pass a cheaper stand-in: then no workers). */
  featurize?: (crop: Float32Array) => Float32Array;
  /** The ranks of a data-parallel run (default: this process alone). */
  world?: Collective;
  /** Steps whose views are prepared ahead in workers (default 0; needs clips from the cache). */
  prefetch?: number;
  /** View workers when prefetching (default: the machine's cores). */
  jobs?: number;
}

/**
 * One pre-training run as this process holds it in memory: its networks,
 * data, mixup memories, schedules and the number of steps done. It saves
 * itself as a checkpoint, and a later session restores from one.
 */
export class PretrainSession {
  /** The resolved config of the run. */
  readonly cfg: TrainConfig;
  /** Student, teacher and optimiser. */
  readonly nets: TeacherStudent;
  /** Mixup memories of view 1 and view 2. */
  readonly memories: [MixupMemory, MixupMemory];
  /** Steps completed. */
  step = 0;
  /** The gradient allreduce of the last step (zeros in one process). */
  lastAllreduce: AllreduceStats = { calls: 0, bytes: 0, ms: 0 };
  readonly #ctx: ViewContext;
  readonly #sampler: Sampler;
  readonly #sched: Schedules;
  readonly #world: Collective;
  readonly #opts: SessionOptions;
  #feed: ViewFeed | null = null;

  /**
   * `opts.featurize` turns a crop into its log-mel [64, T] (default:
   * `logMel`, REFERENCE.md §1). With `opts.world`, `cfg.batch` must be a
   * multiple of the number of ranks. With `opts.prefetch` K and clips from
   * the sharded cache, the views of the next K steps are rendered in
   * workers while a step trains, with the same bits as in turn.
   */
  constructor(cfg: TrainConfig, clips: ClipSource, opts: SessionOptions = {}) {
    this.cfg = cfg;
    this.#world = opts.world ?? SOLO;
    this.#opts = opts;
    if (cfg.batch % this.#world.size !== 0) {
      throw new Error(`Batch ${cfg.batch} is not a multiple of ${this.#world.size} ranks`);
    }
    this.nets = new TeacherStudent(cfg.encoder, cfg.heads, cfg.seed, { world: this.#world });
    this.memories = [
      new MixupMemory({ capacity: cfg.mixupMemory }),
      new MixupMemory({ capacity: cfg.mixupMemory }),
    ];
    this.#ctx = {
      clips,
      cropLength: cropSamples(cfg.cropSeconds),
      nMels: cfg.encoder.nMels,
      featurize: opts.featurize ?? ((crop) => logMel(crop).data),
    };
    this.#sampler = new Sampler(clips.count, cfg.seed);
    this.#sched = trainSchedules(cfg);
  }

  /** This rank's clips of every step: `count` from global sample `first` of the step. */
  #share(): Share {
    const count = this.cfg.batch / this.#world.size;
    return { first: this.#world.rank * count, count };
  }

  /** The feed of views from this step on (made again after a restore). */
  #viewFeed(): ViewFeed {
    const table = "table" in this.#ctx.clips && !this.#opts.featurize
      ? (this.#ctx.clips as ShardClipSource).table
      : undefined;
    this.#feed ??= new ViewFeed(
      this.#ctx,
      {
        batch: this.cfg.batch,
        seed: this.cfg.seed,
        sampler: this.#sampler,
        share: this.#share(),
        start: this.step,
        frame: frameFeed(this.cfg),
      },
      this.memories,
      { prefetch: this.#opts.prefetch, workers: this.#opts.jobs, table },
    );
    return this.#feed;
  }

  /** Runs step number `this.step + 1` and returns its log line (global values). */
  async trainStep(): Promise<StepLine> {
    const s = this.step;
    const t0 = performance.now();
    const { batch } = this.cfg;
    const { first, count } = this.#share();
    const t = cropFrames(this.#ctx.cropLength);
    const { views, waited, memories, masks } = await this.#viewFeed().take(s);
    const x = tf.tensor3d(views, [2 * count, this.#ctx.nMels, t]); // [2b, 64, T]
    const lr = this.#sched.lr[s]!, wd = this.#sched.wd[s]!, ema = this.#sched.ema[s]!;
    // Rows of x in the global [2B] batch: drop path draws per global row.
    const rows = Array.from(
      { length: 2 * count },
      (_, i) => i < count ? first + i : batch + first + i - count,
    );
    const shard: BatchShard | undefined = this.#world.size > 1
      ? { rows, total: 2 * batch }
      : undefined;
    try {
      const st = await this.nets.step(x, new Array(2 * count).fill(t), {
        lr,
        wd,
        ema,
        seedStudent: mixSeed(this.cfg.seed, STREAM.dropStudent, s),
        seedTeacher: mixSeed(this.cfg.seed, STREAM.dropTeacher, s),
        step: s + 1,
        shard,
        tokenMask: masks,
      });
      this.lastAllreduce = st.allreduce;
      this.step = s + 1;
      this.memories[0].entries = memories[0];
      this.memories[1].entries = memories[1];
      return {
        step: s + 1,
        loss: st.loss,
        lr,
        wd,
        ema,
        std_student: st.stdStudent,
        std_teacher: st.stdTeacher,
        seconds: (performance.now() - t0) / 1000,
        data_wait: waited,
      };
    } finally {
      x.dispose();
    }
  }

  /** Writes the full training state as `ckpt-<step>.safetensors`. */
  save(runDir: string): Promise<string> {
    return saveCheckpoint(runDir, this.nets.stateTensors(), {
      format: "atst-pretrain",
      step: this.step,
      optimizerStep: this.nets.optimizer.step,
      config: this.cfg,
      mixup: [this.memories[0].entries, this.memories[1].entries],
    }, this.cfg.keep);
  }

  /** Restores a checkpoint written by {@link save}. */
  async restore(path: string): Promise<void> {
    const { tensors, state } = await loadCheckpoint<TrainConfig>(path);
    this.#feed?.close();
    this.#feed = null;
    try {
      this.nets.loadState(tensors, state.optimizerStep);
    } finally {
      tf.dispose([...tensors.values()]);
    }
    this.step = state.step;
    this.memories[0].entries = state.mixup[0];
    this.memories[1].entries = state.mixup[1];
  }

  /** Frees all tensors. */
  dispose(): void {
    this.#feed?.close();
    this.#feed = null;
    this.nets.dispose();
  }
}

/** Options of {@link pretrain}. */
export interface PretrainOptions {
  /** Progress on stderr (default true; rank 0 only). */
  progress?: boolean;
  /** Called after every step (tests, monitoring). */
  onStep?: (line: StepLine) => void;
  /** The ranks of a data-parallel run (default: this process alone). */
  world?: Collective;
  /** Decoding and view workers per process (default: the machine's cores). */
  jobs?: number;
  /** Steps whose views are prepared ahead (default 2; 0: each in turn, on this thread). */
  prefetch?: number;
  /** Where `--data -` reads its paths (default stdin). */
  stdin?: ReadableStream<Uint8Array>;
}

/**
 * Starts the run in `runDir`, or continues it from its last checkpoint
 * when `runDir/config.json` exists. A resumed run must ask for the same
 * recipe: any value other than `saveEvery` and `keep` that differs from the
 * stored config is a UserError naming every such key. With several ranks
 * (`opts.world`) every rank calls this with the same arguments.
 */
export async function pretrain(
  runDir: string,
  cfg: TrainConfig,
  opts: PretrainOptions = {},
): Promise<StepLine[]> {
  const world = opts.world ?? SOLO;
  const lead = world.rank === 0;
  /** Runs `fn` on rank 0 only; a failure there stops every rank with its one line. */
  const onLead = <T>(fn: () => Promise<T>) =>
    agree(world, async () => lead ? await fn() : undefined);
  const say = (m: string) => lead && console.error(m);
  // Ranks: one config, one run directory.
  checkSameSettings(world, cfg);
  await checkSharedDir(world, runDir);
  // Config: the run directory's config.json, written first.
  await onLead(() => writeOrCheckConfig(runDir, cfg));
  // Data.
  const data = await prepareData(cfg.data, join(runDir, "cache"), {
    warn: say,
    world,
    jobs: opts.jobs,
    progress: opts.progress ?? true,
    stdin: opts.stdin,
  });
  say(
    `atst: ${data.index.clips.length} clips ${data.built ? "decoded into" : "read from"} ` +
      `${join(runDir, "cache")}${
        data.index.skipped.length ? `, ${data.index.skipped.length} skipped` : ""
      }${
        world.size > 1 ? `; ${world.size} ranks, ${cfg.batch / world.size} clips each per step` : ""
      }`,
  );
  // Networks (gradients registered before the first backward).
  await enableGradients();
  const session = new PretrainSession(cfg, data.clips, {
    world,
    jobs: opts.jobs,
    prefetch: opts.prefetch ?? 2,
  });
  try {
    // Resume: rank 0 picks the checkpoint, every rank loads it.
    const last = Float64Array.of((await onLead(() => listCheckpoints(runDir)))?.at(-1)?.step ?? 0);
    world.allreduce(last, "max");
    if (last[0]) {
      await agree(world, () => session.restore(join(runDir, checkpointName(last[0]!))));
      say(`atst: resuming ${runDir} from step ${session.step} of ${cfg.steps}`);
      await checkSameWeights(world, session.nets.stateTensors().values(), session.step);
    }
    await onLead(() => truncateLog(runDir, session.step));
    // Loop.
    const lines: StepLine[] = [];
    const progress = new Progress({
      label: "pretrain",
      total: cfg.steps - session.step,
      enabled: lead && (opts.progress ?? true),
      logEverySeconds: 10,
    });
    while (session.step < cfg.steps) {
      const line = await session.trainStep();
      if (lead) await appendLog(runDir, [line]);
      lines.push(line);
      opts.onStep?.(line);
      progress.tick(
        1,
        `step ${line.step}/${cfg.steps} loss ${line.loss.toFixed(4)} std ${
          line.std_student.toFixed(3)
        } waited ${line.data_wait.toFixed(2)}s for data`,
      );
      if (session.step % cfg.saveEvery === 0 || session.step === cfg.steps) {
        await checkSameWeights(world, session.nets.stateTensors().values(), session.step);
        await onLead(() => session.save(runDir));
      }
    }
    progress.done();
    await onLead(() =>
      saveEncoder(join(runDir, "encoder.safetensors"), session.nets.teacher.encoder, {
        trainCropSeconds: cfg.cropSeconds,
        extra: { trainedSteps: String(cfg.steps), trainedOn: JSON.stringify(cfg.data) },
      })
    );
    return lines;
  } finally {
    session.dispose();
  }
}
