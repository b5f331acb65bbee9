/**
 * `atst pretrain`: flags and wiring only; the recipe lives in
 * lib/train/trainer.ts.
 *
 * @module
 */
import { resolve } from "node:path";
import { choice, list, num, parseFlags, str } from "../lib/cli/args.ts";
import { UserError } from "../lib/errors.ts";
import { BACKENDS, useBackend } from "../lib/backend/backend.ts";
import { ENCODER_SIZES, encoderConfig } from "../lib/model/config.ts";
import { defaultLr } from "../lib/train/schedules.ts";
import { pretrain, type TrainConfig } from "../lib/train/trainer.ts";

const HELP = `atst pretrain: ATST teacher-student self-supervised training on unlabeled audio

Usage: atst pretrain --data DIR [--data DIR ...] --run DIR [flags]

Data and run:
  --data PATH         audio file, folder (recursive) or @list.txt; repeatable
  --run DIR           run directory: config, decoded-audio cache, log.jsonl,
                      checkpoints, encoder.safetensors. Rerunning the same
                      command continues from the last checkpoint.
Model and recipe (spec §3):
  --size S            tiny|small|base encoder (default small)
  --steps N           optimiser steps (default 1000)
  --batch B           clips per step; each gives two views (default 64)
  --lr X              peak learning rate (default 5e-4 * batch / 256)
  --warmup N          linear warm-up steps (default min(1300, steps / 10))
  --ema M             starting EMA momentum, rising to 1.0 (default 0.99)
  --crop-seconds S    training crop length (default 6.0; 601 frames)
  --seed N            seed of weights, crops and augmentations (default 0)
Checkpoints and compute:
  --save-every N      checkpoint every N steps (default 500; always at the end)
  --keep K            checkpoints kept (default 2)
  --backend NAME      ${BACKENDS.join("|")} (default auto)
  --quiet             no progress line

Examples:
  atst pretrain --data ~/audio --run runs/small --size small --steps 20000 --batch 64
  atst pretrain --data a/ --data @more.txt --run runs/t --size tiny --steps 200 --batch 8 --crop-seconds 2
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

/** Runs `atst pretrain`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(args, {
    data: { type: "string", multiple: true },
    run: { type: "string" },
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
    ...HIDDEN,
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) {
    throw new UserError(`Unexpected argument '${positionals[0]}' (use --data)`);
  }
  const data = list(values, "data");
  if (!data.length) throw new UserError("Missing --data (audio files, folders or @lists)");
  const runDir = str(values, "run");
  if (!runDir) throw new UserError("Missing --run DIR (where checkpoints and logs go)");
  const size = choice(values, "size", ENCODER_SIZES, "small");
  const steps = num(values, "steps", 1000, { min: 1, integer: true });
  const batch = num(values, "batch", 64, { min: 2, integer: true });
  const cfg: TrainConfig = {
    encoder: values.depth === undefined
      ? encoderConfig(size)
      : encoderConfig(size, { depth: num(values, "depth", 1, { min: 1, integer: true }) }),
    heads: {
      hidden: num(values, "head-hidden", 4096, { min: 1, integer: true }),
      out: num(values, "head-dim", 256, { min: 1, integer: true }),
    },
    // Absolute paths, so the cache check does not depend on the working directory.
    data: data.map((
      d,
    ) => (d.startsWith("@") ? "@" + resolve(d.slice(1)) : d === "-" ? d : resolve(d))),
    steps,
    batch,
    lr: num(values, "lr", defaultLr(batch), { min: 0 }),
    minLr: 1e-6,
    warmup: num(values, "warmup", Math.min(1300, Math.floor(steps / 10)), {
      min: 0,
      integer: true,
    }),
    wd: [0.04, 0.4],
    ema: [num(values, "ema", 0.99, { min: 0, max: 1 }), 1.0],
    cropSeconds: num(values, "crop-seconds", 6.0, { min: 0.04, max: 10 }),
    mixupMemory: num(values, "mixup-memory", 2000, { min: 1, integer: true }),
    seed: num(values, "seed", 0, { min: 0, integer: true }),
    saveEvery: num(values, "save-every", 500, { min: 1, integer: true }),
    keep: num(values, "keep", 2, { min: 1, integer: true }),
  };
  if (data.includes("-")) {
    throw new UserError("--data - (paths on stdin) is not supported by pretrain");
  }
  const backend = choice(values, "backend", BACKENDS, "auto");
  await useBackend(backend, { quiet: values.quiet === true });
  const lines = await pretrain(runDir, cfg, { progress: values.quiet !== true });
  const last = lines.at(-1);
  if (last) {
    console.error(
      `atst: step ${last.step}: loss ${last.loss.toFixed(4)}, std ${
        last.std_student.toFixed(4)
      }; ` +
        `teacher encoder in ${runDir}/encoder.safetensors`,
    );
  }
  return 0;
}
