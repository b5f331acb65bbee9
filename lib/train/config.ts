/**
 * The pre-training config: one object that defines a run, its defaults
 * (written here once; the CLI and its --help read them from here), and
 * the rule for which values a resumed run may change.
 *
 * @module
 */
import { type EncoderConfig, encoderConfig, type EncoderFamily } from "../model/config.ts";
import { FRAME_MASK, type MaskRecipe } from "./frame_masks.ts";

/** Widths of the projector and predictor (4096 / 256 in the reference). */
export interface HeadWidths {
  /** Width of the hidden (BatchNorm, ReLU) layer. */
  hidden: number;
  /** Output width: the space the loss compares in. */
  out: number;
}

/** Everything that defines a run; stored in config.json and every checkpoint. */
export interface TrainConfig {
  /** The student's (and teacher's) encoder. */
  encoder: EncoderConfig;
  /** Projector and predictor widths. */
  heads: HeadWidths;
  /** The --data arguments (absolute paths). */
  data: string[];
  /** Optimiser steps of the whole run; the schedules span them. */
  steps: number;
  /** Clips per step; each gives two views. */
  batch: number;
  /** Peak learning rate, reached at the end of the warm-up. */
  lr: number;
  /** Learning rate at the last step. */
  minLr: number;
  /** Linear warm-up steps of the learning rate. */
  warmup: number;
  /** Weight decay at the first and last step. */
  wd: [number, number];
  /** EMA momentum of the teacher at the first and last step. */
  ema: [number, number];
  /** Training crop length in seconds. */
  cropSeconds: number;
  /** Crops each view's mixup memory holds. */
  mixupMemory: number;
  /** Seed of weights, clip order, crops, augmentations and drop path. */
  seed: number;
  /** Checkpoint every this many steps (and always at the end). */
  saveEvery: number;
  /** Checkpoints kept in the run directory. */
  keep: number;
  /**
   * ATST-Frame runs only (`encoder.family` "frame"): the token mask.
   * Absent from ATST-Clip configs, whose config.json is as before families.
   */
  mask?: MaskRecipe;
}

/**
 * Where the ATST-Frame recipe (REFERENCE.md §8.6, small: 4 x 256 clips,
 * 58 500 steps) differs from ATST-Clip's; everything else is shared.
 */
export const FRAME_RECIPE = {
  lrPer256: 4e-4,
  ema: 0.997,
  cropSeconds: 10.0, // 1001 frames, 250 tokens
  warmupCap: 1950,
} as const;

/**
 * The default recipe of `family` (default "clip": REFERENCE.md §3; "frame":
 * §8.6) for a run of `steps` steps of `batch` clips, the two values that
 * the learning rate and the warm-up follow. `data` is empty: a run must
 * name its own.
 *
 * @example
 * ```ts
 * const cfg = { ...defaultTrainConfig({ steps: 20000, batch: 64 }), data: ["/audio"] };
 * cfg.lr; // 1.25e-4
 * defaultTrainConfig({ batch: 64, family: "frame" }).lr; // 1e-4
 * ```
 */
export function defaultTrainConfig(
  run: { steps?: number; batch?: number; family?: EncoderFamily } = {},
): TrainConfig {
  const clip = clipDefaults(run.steps ?? 1000, run.batch ?? 64);
  if ((run.family ?? "clip") === "clip") return clip;
  return {
    ...clip,
    encoder: encoderConfig("small", { family: "frame" }),
    lr: FRAME_RECIPE.lrPer256 * clip.batch / 256,
    warmup: Math.min(FRAME_RECIPE.warmupCap, Math.floor(clip.steps / 10)),
    ema: [FRAME_RECIPE.ema, 1.0],
    cropSeconds: FRAME_RECIPE.cropSeconds,
    mask: { ...FRAME_MASK },
  };
}

function clipDefaults(steps: number, batch: number): TrainConfig {
  // Sized for one machine; the reference runs about 39 000 steps of batch 1536.
  return {
    encoder: encoderConfig("small"),
    heads: { hidden: 4096, out: 256 },
    data: [],
    steps,
    batch,
    lr: 5e-4 * batch / 256, // the reference's linear scaling rule
    minLr: 1e-6,
    // The reference warms up for 1300 steps; a short run spends a tenth of itself.
    warmup: Math.min(1300, Math.floor(steps / 10)),
    wd: [0.04, 0.4],
    ema: [0.99, 1.0],
    cropSeconds: 6.0, // 601 frames
    mixupMemory: 2000,
    seed: 0,
    saveEvery: 500,
    keep: 2,
  };
}

/** Keys that only affect checkpointing: the one thing a resumed run may change. */
const CHECKPOINT_KEYS: readonly string[] = ["saveEvery", "keep"] satisfies (keyof TrainConfig)[];

/**
 * The recipe keys (every key but `saveEvery` and `keep`) whose values
 * differ between two configs, in the order of `a`'s keys.
 *
 * @example
 * ```ts
 * recipeDiff(stored, { ...stored, ema: [0.9, 1], keep: 5 }); // ["ema"]
 * ```
 */
export function recipeDiff(a: TrainConfig, b: TrainConfig): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const value = (c: TrainConfig, k: string) =>
    canonical((c as unknown as Record<string, unknown>)[k]);
  return keys.filter((k) => !CHECKPOINT_KEYS.includes(k) && value(a, k) !== value(b, k));
}

/** Keys whose flags are not the key in kebab case. */
const FLAGS: Record<string, string> = {
  encoder: "--family/--size/--depth",
  mask: "--family",
  heads: "--head-hidden/--head-dim",
};

/**
 * The command-line flag that sets config key `key`.
 *
 * @example
 * ```ts
 * flagOf("cropSeconds"); // "--crop-seconds"
 * ```
 */
export function flagOf(key: string): string {
  return FLAGS[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * One 32-bit hash per key of `cfg` (keys sorted), of the key's value: what
 * ranks compare to find that they were started with different flags.
 */
export function settingHashes(cfg: TrainConfig): { keys: string[]; hashes: Float64Array } {
  const keys = Object.keys(cfg).sort();
  const hashes = Float64Array.from(keys, (k) => {
    const text = canonical((cfg as unknown as Record<string, unknown>)[k]);
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h >>> 0;
  });
  return { keys, hashes };
}

/** JSON with object keys sorted, so that key order never reads as a change. */
function canonical(v: unknown): string {
  return JSON.stringify(
    v ?? null,
    (_, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1)))
        : x,
  );
}
