/**
 * Per-step schedules (REFERENCE.md §3), precomputed as arrays indexed by the global
 * optimiser step, DINO style: learning rate, weight decay and EMA momentum.
 *
 * @module
 */
import type { TrainConfig } from "./config.ts";

/**
 * A cosine ramp from `base` to `final` over `steps` steps, after a linear
 * warm-up from `warmupStart` to `base` over `warmup` steps. Same formula as
 * DINO's `cosine_scheduler` (the warm-up is `linspace(start, base, warmup)`,
 * so its last step already reaches `base`).
 *
 * @example
 * ```ts
 * const lr = cosineSchedule({ base: 1e-3, final: 1e-6, steps: 100, warmup: 10 });
 * lr[0]; // 0
 * ```
 */
export function cosineSchedule(
  opts: { base: number; final: number; steps: number; warmup?: number; warmupStart?: number },
): Float64Array {
  const { base, final, steps } = opts;
  const warmup = Math.min(opts.warmup ?? 0, steps);
  const start = opts.warmupStart ?? 0;
  if (!Number.isInteger(steps) || steps <= 0) {
    throw new Error(`Schedule: steps must be positive, got ${steps}`);
  }
  const out = new Float64Array(steps);
  // Warm-up phase: numpy linspace(start, base, warmup), end point included.
  for (let i = 0; i < warmup; i++) {
    out[i] = warmup === 1 ? start : start + (base - start) * (i / (warmup - 1));
  }
  // Cosine phase over the remaining steps.
  const n = steps - warmup;
  for (let i = 0; i < n; i++) {
    out[warmup + i] = final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * i) / n));
  }
  if (out.length !== steps) throw new Error("Schedule length mismatch");
  return out;
}

/**
 * What the schedules are built from: resolved values of the run's config
 * (the defaults live in config.ts, not here).
 */
export type ScheduleOptions = Pick<TrainConfig, "steps" | "warmup" | "lr" | "minLr" | "wd" | "ema">;

/** The three per-step arrays of a run, each of length `steps`. */
export interface Schedules {
  lr: Float64Array;
  wd: Float64Array;
  ema: Float64Array;
}

/**
 * The learning-rate, weight-decay and EMA-momentum schedules of a run.
 *
 * @example
 * ```ts
 * const s = trainSchedules(defaultTrainConfig({ steps: 1000, batch: 64 }));
 * s.lr[100]; // the peak, 5e-4 * 64 / 256, after 100 warm-up steps
 * ```
 */
export function trainSchedules(opts: ScheduleOptions): Schedules {
  const { steps } = opts;
  const s: Schedules = {
    lr: cosineSchedule({ base: opts.lr, final: opts.minLr, steps, warmup: opts.warmup }),
    wd: cosineSchedule({ base: opts.wd[0], final: opts.wd[1], steps }),
    ema: cosineSchedule({ base: opts.ema[0], final: opts.ema[1], steps }),
  };
  for (const k of ["lr", "wd", "ema"] as const) {
    if (s[k].length !== opts.steps) {
      throw new Error(`Schedule ${k} has ${s[k].length} steps, expected ${opts.steps}`);
    }
  }
  return s;
}
