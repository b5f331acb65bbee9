/**
 * `atst pretrain`: flags and wiring only; the recipe and its defaults live
 * in lib/train/config.ts, the run in lib/train/pretrain.ts.
 *
 * @module
 */
import { resolve } from "node:path";
import { choice, list, num, parseFlags, str } from "../lib/cli/args.ts";
import { exitCodeOf, isUserFacing, UserError } from "../lib/errors.ts";
import { BACKENDS, useBackend } from "../lib/backend/backend.ts";
import { tf } from "../lib/backend/tf.ts";
import {
  ENCODER_FAMILIES,
  ENCODER_SIZES,
  encoderConfig,
  type EncoderSize,
} from "../lib/model/config.ts";
import { defaultTrainConfig, FRAME_RECIPE, type TrainConfig } from "../lib/train/config.ts";
import { FRAME_MASK } from "../lib/train/frame_masks.ts";
import { pretrain } from "../lib/train/pretrain.ts";
import { agree, type Collective, isShared, openWorld, QuietExit } from "../lib/dist/world.ts";
import { bindLocalDevice } from "../lib/dist/device.ts";
import { cropFrames, cropSamples } from "../lib/train/views.ts";

const DEFAULTS = defaultTrainConfig();
// The two derived defaults, stated as their rules: the lr at batch 256, the longest warm-up.
const LR_PER_256 = defaultTrainConfig({ batch: 256 }).lr;
const WARMUP_CAP = defaultTrainConfig({ steps: Number.MAX_SAFE_INTEGER }).warmup;
const [EMA_START, EMA_END] = DEFAULTS.ema;
const CROP = DEFAULTS.cropSeconds;
const CROP_FRAMES = cropFrames(cropSamples(CROP));
const FRAME_FRAMES = cropFrames(cropSamples(FRAME_RECIPE.cropSeconds));

const HELP = `atst pretrain: ATST teacher-student self-supervised training on unlabeled audio

Usage: atst pretrain --data DIR [--data DIR ...] --run DIR [flags]

Data and run:
  --data PATH         audio file, folder (recursive), @list.txt or - (paths on
                      stdin, one per line); repeatable. Decoded once into
                      <run>/cache (shards of up to 1024 files and one index); a
                      killed build resumes with the shards it had finished
  --run DIR           run directory: config, decoded-audio cache, log.jsonl,
                      checkpoints, encoder.safetensors. Rerunning the same
                      command continues from the last checkpoint; a rerun
                      that changes a model or recipe flag is refused.
Model and recipe (REFERENCE.md §3; --family frame: §8.6):
  --family F          clip: ATST-Clip, two crops per clip, loss on the CLS token;
                      frame: ATST-Frame, one crop per clip, its plain and its
                      augmented view, one block mask per clip shared by both
                      (ratio ${FRAME_MASK.ratio}, spans of ${FRAME_MASK.span}, at least ${FRAME_MASK.minSpans}), loss on every
                      masked token (default clip)
  --size S            ${ENCODER_SIZES.join("|")} encoder (default ${DEFAULTS.encoder.size})
  --steps N           optimiser steps (default ${DEFAULTS.steps})
  --batch B           clips per step; each gives two views (default ${DEFAULTS.batch})
  --lr X              peak learning rate (default clip ${LR_PER_256.toExponential()} * batch / 256,
                      frame ${FRAME_RECIPE.lrPer256.toExponential()} * batch / 256)
  --warmup N          linear warm-up steps (default clip min(${WARMUP_CAP}, steps / 10),
                      frame min(${FRAME_RECIPE.warmupCap}, steps / 10))
  --ema M             starting EMA momentum, rising to ${
  EMA_END.toFixed(1)
} (default clip ${EMA_START},
                      frame ${FRAME_RECIPE.ema})
  --crop-seconds S    training crop length (default clip ${CROP.toFixed(1)}, ${CROP_FRAMES} frames;
                      frame ${FRAME_RECIPE.cropSeconds.toFixed(1)}, ${FRAME_FRAMES} frames)
  --seed N            seed of weights, crops and augmentations (default ${DEFAULTS.seed})
Checkpoints and compute:
  --save-every N      checkpoint every N steps (default ${DEFAULTS.saveEvery}; always at the end)
  --keep K            checkpoints kept (default ${DEFAULTS.keep})
  --backend NAME      ${BACKENDS.join("|")} (default auto)
  -j, --jobs N        worker threads decoding the cache and preparing views
                      (default: the machine's cores)
  --prefetch K        steps whose views (crops, log-mel, mixup, resize crop) are
                      prepared ahead in the workers (default 2; 0 = each step in
                      turn, here); the weights are the same for every K
  --quiet             no progress line

Data-parallel: start it under an MPI launcher (mpirun -np N, srun) to train one
model with N ranks, either family; --batch stays the global batch (a multiple
of N) and --run must be on a filesystem every rank sees. Rank 0 writes the run
directory. The result is one process's on the whole batch (frame: the loss and
BatchNorm over the masked tokens of all ranks).

Learning rate: the default is the paper's linear scaling rule, 5e-4 * batch / 256,
tuned for batches of 1536 over about 39 000 steps. For runs of minutes on small
batches start at ten times that, 5e-3 * batch / 256, with the default --ema: on a
spoken-digit set (tiny model, 300 steps of 16 clips) neither atst nor the authors'
code learnt anything measurable at the default rate, while at ten times it both
beat every random init (probe accuracy 0.52-0.56 and 0.58 against 0.43-0.51). In
'deno task demo' (5-way language id) ten times the rule beat the random start in
3 of 3 seeds; twenty times it with --ema 0.95 lost in 3 of 3. Watch 'std' in the
progress line (std of the normalised outputs): near 0 means the run collapsed.

Examples:
  atst pretrain --data ~/audio --run runs/small --size small --steps 20000 --batch 64
  atst pretrain --data ~/audio --run runs/frame --family frame --steps 20000 --batch 64
  atst pretrain --data a/ --data @more.txt --run runs/t --size tiny --steps 200 --batch 8 --crop-seconds 2
  find /audio -name '*.flac' | atst pretrain --data - --run runs/small --jobs 8
  mpirun -np 4 atst pretrain --data /shared/audio --run /shared/runs/small --batch 256
  atst embed --model runs/small/encoder.safetensors ...   # use the trained teacher encoder
`;

// Small-test knobs, deliberately not in --help: narrow heads, a small mixup memory,
// a shallower encoder.
const HIDDEN = {
  "head-hidden": { type: "string" as const },
  "head-dim": { type: "string" as const },
  "mixup-memory": { type: "string" as const },
  depth: { type: "string" as const },
};

/**
 * Runs `atst pretrain`; returns the exit code. Under an MPI launcher this
 * process is one rank: a failure all ranks meet is reported once (rank 0)
 * and every rank leaves MPI cleanly; a failure of this rank alone is
 * printed and ends the whole job (MPI_Abort), so no rank waits forever.
 */
export async function run(args: string[]): Promise<number> {
  const world = await openWorld();
  try {
    const code = await runRank(args, world);
    world.finalize();
    return code;
  } catch (err) {
    if (world.size === 1) {
      world.finalize();
      throw err;
    }
    if (!isShared(err)) {
      const message = isUserFacing(err) ? err.message : `internal error: ${(err as Error).stack}`;
      console.error(`atst: rank ${world.rank}: ${message}`);
      world.abort(exitCodeOf(err));
    }
    world.finalize();
    if (err instanceof QuietExit) return err.exitCode;
    throw err;
  }
}

async function runRank(args: string[], world: Collective): Promise<number> {
  // Every rank parses the same flags: a bad one is reported once, by rank 0.
  const parsed = await agree(world, () => Promise.resolve(parseRun(args)));
  if (!parsed) {
    if (world.rank === 0) console.log(HELP);
    return 0;
  }
  const { runDir, cfg, backend, quiet, jobs, prefetch } = parsed;
  // Before the backend loads: tfjs-node-gpu's CUDA reads it at start-up.
  bindLocalDevice(world);
  await agree(world, async () => {
    await useBackend(backend, { quiet: quiet || world.rank > 0 });
    // The synchronised BatchNorm reads its sums inside the (synchronous) forward and backward.
    if (world.size > 1 && tf.getBackend() === "webgpu") {
      throw new UserError(
        `--backend ${backend} picked WebGPU, which cannot read tensors inside a step; ` +
          `data-parallel pretrain needs --backend native, wasm or cpu`,
      );
    }
  });
  const lines = await pretrain(runDir, cfg, { progress: !quiet, world, jobs, prefetch });
  const last = lines.at(-1);
  if (last && world.rank === 0) {
    console.error(
      `atst: step ${last.step}: loss ${last.loss.toFixed(4)}, std ${
        last.std_student.toFixed(4)
      }; ` +
        `teacher encoder in ${runDir}/encoder.safetensors`,
    );
  }
  return 0;
}

/** The flags as a run: directory, config, backend; null for --help. */
function parseRun(
  args: string[],
): {
  runDir: string;
  cfg: TrainConfig;
  backend: typeof BACKENDS[number];
  quiet: boolean;
  jobs: number;
  prefetch: number;
} | null {
  const { values, positionals, help } = parseFlags(args, {
    data: { type: "string", multiple: true },
    run: { type: "string" },
    family: { type: "string" },
    size: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    warmup: { type: "string" },
    ema: { type: "string" },
    "crop-seconds": { type: "string" },
    seed: { type: "string" },
    "save-every": { type: "string" },
    keep: { type: "string" },
    backend: { type: "string" },
    quiet: { type: "boolean" },
    jobs: { type: "string", short: "j" },
    prefetch: { type: "string" },
    ...HIDDEN,
  });
  if (help) return null;
  if (positionals.length) {
    throw new UserError(`Unexpected argument '${positionals[0]}' (use --data)`);
  }
  const data = list(values, "data");
  if (!data.length) throw new UserError("Missing --data (audio files, folders or @lists)");
  const runDir = str(values, "run");
  if (!runDir) throw new UserError("Missing --run DIR (where checkpoints and logs go)");
  const family = choice(values, "family", ENCODER_FAMILIES, "clip");
  const size = choice(values, "size", ENCODER_SIZES, DEFAULTS.encoder.size as EncoderSize);
  const steps = num(values, "steps", DEFAULTS.steps, { min: 1, integer: true });
  const batch = num(values, "batch", DEFAULTS.batch, { min: 2, integer: true });
  // Absolute paths, so the cache check does not depend on the working directory.
  const absolute = (p: string) =>
    p.startsWith("@") ? "@" + resolve(p.slice(1)) : p === "-" ? p : resolve(p);
  // The defaults for these steps and batch (the lr and warm-up follow them).
  const defaults = defaultTrainConfig({ steps, batch, family });
  const cfg: TrainConfig = {
    ...defaults,
    encoder: encoderConfig(size, {
      family,
      ...(values.depth === undefined
        ? {}
        : { depth: num(values, "depth", 1, { min: 1, integer: true }) }),
    }),
    heads: {
      hidden: num(values, "head-hidden", defaults.heads.hidden, { min: 1, integer: true }),
      out: num(values, "head-dim", defaults.heads.out, { min: 1, integer: true }),
    },
    data: data.map(absolute),
    lr: num(values, "lr", defaults.lr, { min: 0 }),
    warmup: num(values, "warmup", defaults.warmup, { min: 0, integer: true }),
    ema: [num(values, "ema", defaults.ema[0], { min: 0, max: 1 }), defaults.ema[1]],
    cropSeconds: num(values, "crop-seconds", defaults.cropSeconds, { min: 0.04, max: 10 }),
    mixupMemory: num(values, "mixup-memory", defaults.mixupMemory, { min: 1, integer: true }),
    seed: num(values, "seed", defaults.seed, { min: 0, integer: true }),
    saveEvery: num(values, "save-every", defaults.saveEvery, { min: 1, integer: true }),
    keep: num(values, "keep", defaults.keep, { min: 1, integer: true }),
  };
  if (data.filter((d) => d === "-").length > 1) {
    throw new UserError("--data - (paths on stdin) can be given once");
  }
  const backend = choice(values, "backend", BACKENDS, "auto");
  const cores = navigator.hardwareConcurrency;
  const jobs = num(values, "jobs", cores, { min: 1, max: 256, integer: true });
  const prefetch = num(values, "prefetch", 2, { min: 0, max: 64, integer: true });
  return { runDir, cfg, backend, quiet: values.quiet === true, jobs, prefetch };
}
