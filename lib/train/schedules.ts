/**
 * Per-step schedules (spec §3), precomputed as arrays indexed by the global
 * optimiser step, DINO style: learning rate, weight decay and EMA momentum.
 *
 * @module
 */

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

/** Options of {@link trainSchedules}. */
export interface ScheduleOptions {
  /** Number of optimiser steps of the whole run. */
  steps: number;
  /** Clips per step (sets the default learning rate). */
  batch: number;
  /** Linear warm-up steps of the learning rate. */
  warmup: number;
  /** Peak learning rate; default 5e-4 * batch / 256 (the reference's scaling rule). */
  lr?: number;
  /** Final learning rate (1e-6 in the reference). */
  minLr?: number;
  /** Weight decay at the first and last step (0.04 -> 0.4). */
  wd?: [number, number];
  /** EMA momentum at the first and last step (0.99 -> 1.0). */
  ema?: [number, number];
}

/** The three per-step arrays of a run, each of length `steps`. */
export interface Schedules {
  lr: Float64Array;
  wd: Float64Array;
  ema: Float64Array;
  /** The resolved peak learning rate. */
  baseLr: number;
}

/** Default peak learning rate for a batch size: 5e-4 * batch / 256. */
export function defaultLr(batch: number): number {
  return 5e-4 * batch / 256;
}

/**
 * The learning-rate, weight-decay and EMA-momentum schedules of a run.
 *
 * @example
 * ```ts
 * const s = trainSchedules({ steps: 1000, batch: 64, warmup: 100 });
 * s.lr[100]; // 5e-4 * 64 / 256
 * ```
 */
export function trainSchedules(opts: ScheduleOptions): Schedules {
  const baseLr = opts.lr ?? defaultLr(opts.batch);
  const [wd0, wd1] = opts.wd ?? [0.04, 0.4];
  const [m0, m1] = opts.ema ?? [0.99, 1.0];
  const s: Schedules = {
    lr: cosineSchedule({
      base: baseLr,
      final: opts.minLr ?? 1e-6,
      steps: opts.steps,
      warmup: opts.warmup,
    }),
    wd: cosineSchedule({ base: wd0, final: wd1, steps: opts.steps }),
    ema: cosineSchedule({ base: m0, final: m1, steps: opts.steps }),
    baseLr,
  };
  for (const k of ["lr", "wd", "ema"] as const) {
    if (s[k].length !== opts.steps) {
      throw new Error(`Schedule ${k} has ${s[k].length} steps, expected ${opts.steps}`);
    }
  }
  return s;
}
