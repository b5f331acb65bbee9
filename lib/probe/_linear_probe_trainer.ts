/**
 * The training state of the linear probe (private to linear.ts): flat
 * parameter and optimiser arrays, BatchNorm running statistics, the
 * standardisation, batching and the softmax shared with prediction.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import type { ProbeConfig } from "./protocols.ts";

/** In-place softmax of one row; returns log of the normaliser (for the loss). */
export function activateSoftmax(row: Float32Array): number {
  let max = -Infinity;
  for (let c = 0; c < row.length; c++) max = Math.max(max, row[c]!);
  let sum = 0;
  for (let c = 0; c < row.length; c++) sum += Math.exp(row[c]! - max);
  const logZ = max + Math.log(sum);
  for (let c = 0; c < row.length; c++) row[c] = Math.exp(row[c]! - logZ);
  return logZ;
}

/** Per-feature mean and sum of squared deviations of `n` rows of `dim` (float64, two passes). */
export function columnMoments(
  x: Float32Array,
  n: number,
  dim: number,
): { mean: Float64Array; sq: Float64Array } {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let d = 0; d < dim; d++) mean[d]! += x[row + d]!;
  }
  for (let d = 0; d < dim; d++) mean[d]! /= n;
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let d = 0; d < dim; d++) {
      const v = x[row + d]! - mean[d]!;
      sq[d]! += v * v;
    }
  }
  return { mean, sq };
}

/** 1 / population std from the squared deviations `sq` of `n` rows (constant features keep scale 1). */
export function invPopulationStd(sq: Float64Array, n: number): Float32Array {
  // Like scikit-learn's StandardScaler: population std, constant features left unscaled.
  return Float32Array.from(sq, (s) => {
    const sd = Math.sqrt(s / n);
    return sd > 1e-12 ? 1 / sd : 1;
  });
}

/** Per-feature mean and 1 / population std (constant features keep scale 1). */
export function meanStd(
  x: Float32Array,
  n: number,
  dim: number,
): { mean: Float32Array; invStd: Float32Array } {
  const { mean, sq } = columnMoments(x, n, dim);
  return { mean: Float32Array.from(mean), invStd: invPopulationStd(sq, n) };
}

/** Batches of a permutation; a trailing batch of one joins the previous one (batch statistics need two rows). */
export function batches(perm: Int32Array, size: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let s = 0; s < perm.length; s += size) {
    out.push(perm.subarray(s, Math.min(perm.length, s + size)));
  }
  if (out.length > 1 && out[out.length - 1]!.length === 1) {
    const merged = out[out.length - 2]!.length + 1;
    out.splice(-2, 2, perm.subarray(perm.length - merged));
  }
  return out;
}

/** BatchNorm1d's default epsilon. */
export const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;
const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** The linear probe's parameters, optimiser state and BatchNorm running statistics, all flat arrays. */
export class LinearProbeTrainer {
  // Weight and bias share one flat parameter vector: [E * C weights, C biases].
  readonly p: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly runMean: Float64Array;
  readonly runVar: Float64Array;
  step = 0;

  constructor(
    readonly dim: number,
    readonly classes: number,
    readonly cfg: ProbeConfig,
    rng: Rng,
    init?: Float32Array,
  ) {
    const size = dim * classes + classes;
    this.p = new Float32Array(size);
    for (let i = 0; i < dim * classes; i++) {
      this.p[i] = init ? init[i]! : cfg.initStd * rng.normal();
    }
    this.m = new Float32Array(size);
    this.v = new Float32Array(cfg.optimizer === "adam" ? size : 0);
    this.runMean = new Float64Array(dim);
    this.runVar = new Float64Array(dim).fill(1);
  }

  /** Standardises a gathered batch in place: batch statistics (reference) or fixed ones (evar). */
  standardise(
    xb: Float32Array,
    rows: number,
    fixed: { mean: Float32Array; invStd: Float32Array },
  ): void {
    const E = this.dim;
    if (this.cfg.protocol !== "reference") {
      for (let i = 0; i < rows; i++) {
        for (let e = 0; e < E; e++) {
          xb[i * E + e] = (xb[i * E + e]! - fixed.mean[e]!) * fixed.invStd[e]!;
        }
      }
      return;
    }
    const { mean, sq } = columnMoments(xb, rows, E);
    const inv = new Float64Array(E);
    for (let e = 0; e < E; e++) {
      const variance = sq[e]! / rows; // BatchNorm normalises with the biased variance
      inv[e] = 1 / Math.sqrt(variance + BN_EPS);
      this.runMean[e] = (1 - BN_MOMENTUM) * this.runMean[e]! + BN_MOMENTUM * mean[e]!;
      // ... and keeps the unbiased one in running_var.
      this.runVar[e] = (1 - BN_MOMENTUM) * this.runVar[e]! + BN_MOMENTUM * sq[e]! / (rows - 1);
    }
    for (let i = 0; i < rows; i++) {
      for (let e = 0; e < E; e++) xb[i * E + e] = (xb[i * E + e]! - mean[e]!) * inv[e]!;
    }
  }

  /** One optimiser step on gradient `g` (same layout as `p`) with learning rate `lr`. */
  update(g: Float32Array, lr: number): void {
    const { p, m, v, cfg } = this;
    this.step++;
    if (cfg.optimizer === "sgd") {
      // PyTorch SGD: buf = momentum * buf + g; p -= lr * buf.
      for (let i = 0; i < p.length; i++) {
        m[i] = cfg.momentum * m[i]! + g[i]!;
        p[i]! -= lr * m[i]!;
      }
      return;
    }
    // PyTorch Adam; weight decay is L2 added to the gradient.
    const { beta1, beta2, eps } = ADAM;
    const c1 = 1 - beta1 ** this.step, c2 = 1 - beta2 ** this.step;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + cfg.weightDecay * p[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      p[i]! -= lr * (m[i]! / c1) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}
