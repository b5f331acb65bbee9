/**
 * `atst pretrain`'s engine, in named stages: config, data, networks,
 * schedules, resume, loop. The run directory holds everything:
 *
 * ```
 * <run>/config.json              resolved TrainConfig (written first)
 * <run>/cache/index.json, *.f32  decoded 16 kHz clips (built once)
 * <run>/log.jsonl                one JSON line per step
 * <run>/ckpt-<step>.safetensors  full training state (last K kept)
 * <run>/encoder.safetensors      teacher encoder, loadable by `atst embed`
 * ```
 *
 * Every random draw is a function of (seed, step), and the mixup memories
 * are saved in each checkpoint, so a run killed at any moment and resumed
 * ends with the same weights as one that never stopped.
 *
 * @module
 */
import { join } from "node:path";
import { tf } from "../backend/tf.ts";
import { saveEncoder } from "../model/checkpoint.ts";
import { enableGradients } from "../model/gradients.ts";
import { logMel } from "../features/mel.ts";
import { exists, writeFileAtomic } from "../io/atomic.ts";
import { Progress } from "../io/progress.ts";
import { UserError } from "../errors.ts";
import { mixSeed, Rng } from "../rng.ts";
import { recipeDiff, type TrainConfig } from "./config.ts";
import { prepareData } from "./data.ts";
import { TeacherStudent } from "./teacher_student.ts";
import { type Schedules, trainSchedules } from "./schedules.ts";
import {
  appendLog,
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
  makeView,
  MixupMemory,
  type ViewContext,
} from "./views.ts";

/** Streams of the per-step PRNG (one seed per purpose and step). */
const STREAM = { views: 1, dropStudent: 2, dropTeacher: 3, order: 4 } as const;

/** Clip index of sample `k` of the run: a fresh permutation every epoch. */
class Sampler {
  #epoch = -1;
  #perm: Int32Array = new Int32Array(0);
  constructor(readonly count: number, readonly seed: number) {}
  clip(k: number): number {
    const epoch = Math.floor(k / this.count);
    if (epoch !== this.#epoch) {
      this.#perm = Rng.fromState(mixSeed(this.seed, STREAM.order, epoch)).permutation(this.count);
      this.#epoch = epoch;
    }
    return this.#perm[k % this.count]!;
  }
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
  readonly #ctx: ViewContext;
  readonly #sampler: Sampler;
  readonly #sched: Schedules;

  /**
   * `featurize` turns a crop into its log-mel [64, T] (default: `logMel`,
   * REFERENCE.md §1); tests may pass a cheaper stand-in.
   */
  constructor(
    cfg: TrainConfig,
    clips: ClipSource,
    opts: { featurize?: (crop: Float32Array) => Float32Array } = {},
  ) {
    this.cfg = cfg;
    this.nets = new TeacherStudent(cfg.encoder, cfg.heads, cfg.seed);
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

  /** Both views of step `step`'s batch: [2B, 64, T] (view 1 of every clip, then view 2); updates the mixup memories. */
  #views(step: number): Float32Array {
    const { batch } = this.cfg;
    const rng = Rng.fromState(mixSeed(this.cfg.seed, STREAM.views, step));
    const t = cropFrames(this.#ctx.cropLength);
    const size = this.#ctx.nMels * t;
    const out = new Float32Array(2 * batch * size);
    for (let b = 0; b < batch; b++) {
      const clip = this.#sampler.clip(step * batch + b);
      out.set(makeView(this.#ctx, clip, this.memories[0], rng), b * size);
      out.set(makeView(this.#ctx, clip, this.memories[1], rng), (batch + b) * size);
    }
    return out;
  }

  /** Runs step number `this.step + 1` and returns its log line. */
  async trainStep(): Promise<LogLine> {
    const s = this.step;
    const t0 = performance.now();
    const { batch } = this.cfg;
    const t = cropFrames(this.#ctx.cropLength);
    const x = tf.tensor3d(this.#views(s), [2 * batch, this.#ctx.nMels, t]); // [2B, 64, T]
    const lr = this.#sched.lr[s]!, wd = this.#sched.wd[s]!, ema = this.#sched.ema[s]!;
    try {
      const st = await this.nets.step(x, new Array(2 * batch).fill(t), {
        lr,
        wd,
        ema,
        seedStudent: mixSeed(this.cfg.seed, STREAM.dropStudent, s),
        seedTeacher: mixSeed(this.cfg.seed, STREAM.dropTeacher, s),
        step: s + 1,
      });
      this.step = s + 1;
      return {
        step: s + 1,
        loss: st.loss,
        lr,
        wd,
        ema,
        std_student: st.stdStudent,
        std_teacher: st.stdTeacher,
        seconds: (performance.now() - t0) / 1000,
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
    this.nets.dispose();
  }
}

/** Options of {@link pretrain}. */
export interface PretrainOptions {
  /** Progress on stderr (default true). */
  progress?: boolean;
  /** Called after every step (tests, monitoring). */
  onStep?: (line: LogLine) => void;
}

/**
 * Starts the run in `runDir`, or continues it from its last checkpoint
 * when `runDir/config.json` exists. A resumed run must ask for the same
 * recipe: any value other than `saveEvery` and `keep` that differs from the
 * stored config is a UserError naming every such key.
 */
export async function pretrain(
  runDir: string,
  cfg: TrainConfig,
  opts: PretrainOptions = {},
): Promise<LogLine[]> {
  // Config: the run directory's config.json, written first.
  const cfgPath = join(runDir, "config.json");
  if (await exists(cfgPath)) {
    const stored = JSON.parse(await Deno.readTextFile(cfgPath)) as TrainConfig;
    const diff = recipeDiff(stored, cfg);
    if (diff.length) {
      throw new UserError(
        `Run directory '${runDir}' holds a run with other settings (${diff.join(", ")}); ` +
          `rerun with the same flags to resume, or use a new --run directory`,
      );
    }
  } else {
    await writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + "\n");
  }
  const say = (m: string) => console.error(m);
  // Data.
  const data = await prepareData(cfg.data, join(runDir, "cache"), { warn: say });
  say(
    `atst: ${data.index.clips.length} clips ${data.built ? "decoded into" : "read from"} ` +
      `${join(runDir, "cache")}${
        data.index.skipped.length ? `, ${data.index.skipped.length} skipped` : ""
      }`,
  );
  // Networks (gradients registered before the first backward).
  await enableGradients();
  const session = new PretrainSession(cfg, data.clips);
  try {
    // Resume.
    const last = (await listCheckpoints(runDir)).at(-1);
    if (last) {
      await session.restore(last.path);
      say(`atst: resuming ${runDir} from step ${session.step} of ${cfg.steps}`);
    }
    await truncateLog(runDir, session.step);
    // Loop.
    const lines: LogLine[] = [];
    const progress = new Progress({
      label: "pretrain",
      total: cfg.steps - session.step,
      enabled: opts.progress ?? true,
      logEverySeconds: 10,
    });
    while (session.step < cfg.steps) {
      const line = await session.trainStep();
      await appendLog(runDir, [line]);
      lines.push(line);
      opts.onStep?.(line);
      progress.tick(
        1,
        `step ${line.step}/${cfg.steps} loss ${line.loss.toFixed(4)} std ${
          line.std_student.toFixed(3)
        }`,
      );
      if (session.step % cfg.saveEvery === 0 || session.step === cfg.steps) {
        await session.save(runDir);
      }
    }
    progress.done();
    await saveEncoder(join(runDir, "encoder.safetensors"), session.nets.teacher.encoder, {
      trainCropSeconds: cfg.cropSeconds,
      extra: { trainedSteps: String(cfg.steps), trainedOn: JSON.stringify(cfg.data) },
    });
    return lines;
  } finally {
    session.dispose();
  }
}
