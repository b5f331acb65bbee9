/**
 * The linear probe: one standardisation, one linear layer, trained on
 * frozen embeddings with analytic gradients (softmax + cross-entropy for
 * single-label tasks, sigmoid + binary cross-entropy for multi-label).
 *
 * The math is plain Float32Array loops (tfjs's cpu kernels are slower than
 * a plain loop for these shapes: gathers and column statistics dominate);
 * only the two products go through a {@link Gemm}, which can be tfjs on a
 * fast backend (see gemm.ts).
 *
 * How it is trained (optimiser, schedule, standardisation, early stopping)
 * is one of the two protocols of protocols.ts.
 *
 * @module
 */
import { type Gemm, jsGemm } from "./gemm.ts";
import { UserError } from "../errors.ts";
import { accuracy, multiLabelMetrics } from "./metrics.ts";
import { Rng } from "../rng.ts";
import { lrSchedule, type ProbeConfig } from "./protocols.ts";
import {
  activateSoftmax,
  batches,
  BN_EPS,
  LinearProbeTrainer,
  meanStd,
} from "./_linear_probe_trainer.ts";

/** Examples for the probe: `x` is `[n, dim]` row-major, `y` is `[n, classes]` one-hot or multi-hot. */
export interface ProbeData {
  x: Float32Array;
  y: Float32Array;
  n: number;
}

/** A trained probe: standardisation folded in at prediction time. */
export interface LinearProbe {
  dim: number;
  classes: number;
  multiLabel: boolean;
  /** Standardisation: (x - mean) * invStd. */
  mean: Float32Array;
  invStd: Float32Array;
  /** [dim, classes] */
  weight: Float32Array;
  /** [classes] */
  bias: Float32Array;
}

/** One line of the training log. */
export interface EpochLog {
  epoch: number;
  lr: number;
  loss: number;
  valid: number;
}

/** What {@link fitLinear} returns. */
export interface FitResult {
  /** The probe of the best validation epoch (what test is scored with). */
  probe: LinearProbe;
  /** The probe after the last epoch run. */
  last: LinearProbe;
  /** 1-based epoch whose weights were kept. */
  bestEpoch: number;
  bestValid: number;
  epochsRun: number;
  history: EpochLog[];
}

/** The validation (and test) metric: accuracy, or mAP for multi-label tasks. */
export function probeMetric(
  scores: Float32Array,
  y: Float32Array,
  classes: number,
  multiLabel: boolean,
): number {
  if (multiLabel) return multiLabelMetrics(scores, y, classes).mAP;
  const n = y.length / classes;
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) if (y[i * classes + c]! > 0) targets[i] = c;
  }
  return accuracy(scores, targets, classes);
}

const EVAL_CHUNK = 2048;

/**
 * Class probabilities `[n, classes]` (softmax, or sigmoid per class for
 * multi-label probes) for `x` `[n, dim]`.
 */
export async function predictProbe(
  probe: LinearProbe,
  x: Float32Array,
  n: number,
  gemm: Gemm = jsGemm,
): Promise<Float32Array> {
  const { dim, classes } = probe;
  // Standardisation folded into the layer: W' = W * invStd, b' = b - (mean * invStd) W.
  const w = new Float32Array(dim * classes);
  const b = Float64Array.from(probe.bias);
  for (let e = 0; e < dim; e++) {
    const s = probe.invStd[e]!, m = probe.mean[e]!;
    for (let c = 0; c < classes; c++) {
      const v = probe.weight[e * classes + c]! * s;
      w[e * classes + c] = v;
      b[c]! -= m * v;
    }
  }
  const out = new Float32Array(n * classes);
  for (let s = 0; s < n; s += EVAL_CHUNK) {
    const m = Math.min(EVAL_CHUNK, n - s);
    const z = await gemm.forward(x.subarray(s * dim, (s + m) * dim), w, { rows: m, dim, classes }); // [m, C]
    for (let i = 0; i < m; i++) {
      const row = z.subarray(i * classes, (i + 1) * classes);
      for (let c = 0; c < classes; c++) row[c]! += b[c]!;
      if (probe.multiLabel) activateSigmoid(row);
      else activateSoftmax(row);
    }
    out.set(z, s * classes);
  }
  return out;
}

/** The probe as it would be evaluated now, from the trainer's state. */
function snapshot(
  tr: LinearProbeTrainer,
  fixed: { mean: Float32Array; invStd: Float32Array },
  multiLabel: boolean,
): LinearProbe {
  const { dim, classes } = tr;
  // The reference evaluates BatchNorm with its running statistics; evar keeps the train ones.
  const reference = tr.cfg.protocol === "reference";
  return {
    dim,
    classes,
    multiLabel,
    mean: reference ? Float32Array.from(tr.runMean) : fixed.mean,
    invStd: reference
      ? Float32Array.from(tr.runVar, (x) => 1 / Math.sqrt(x + BN_EPS))
      : fixed.invStd,
    weight: tr.p.slice(0, dim * classes),
    bias: tr.p.slice(dim * classes),
  };
}

function activateSigmoid(row: Float32Array): void {
  for (let c = 0; c < row.length; c++) row[c] = 1 / (1 + Math.exp(-row[c]!));
}

/** One batch of a {@link TrainSource}: `x` `[rows, dim]` (standardised in place by the trainer), `y` `[rows, classes]`. */
export interface TrainBatch {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

/**
 * Training examples as {@link fitStreamed} reads them: shuffled batches per
 * epoch and the standardisation statistics, so that the examples need not
 * all be in memory (the events probe streams frames from disk).
 */
export interface TrainSource {
  /** Examples per epoch. */
  n: number;
  /**
   * The batches of `epoch` (1-based), shuffled with `rng` (the probe's
   * generator, shared with the initial weights). A batch's arrays are
   * valid until the next batch is requested.
   */
  epoch(epoch: number, rng: Rng, batchSize: number): AsyncIterable<TrainBatch>;
  /** Per-feature mean and 1 / population std over all examples (see meanStd). */
  meanStd(): Promise<{ mean: Float32Array; invStd: Float32Array }>;
}

/** In-memory examples as a {@link TrainSource}: one permutation of all rows per epoch. */
export function arraySource(train: ProbeData, dim: number, classes: number): TrainSource {
  const [E, C] = [dim, classes];
  return {
    n: train.n,
    meanStd: () => Promise.resolve(meanStd(train.x, train.n, E)),
    async *epoch(_epoch, rng, batchSize) {
      const rows = Math.min(train.n, batchSize + 1);
      const xb = new Float32Array(rows * E), yb = new Float32Array(rows * C);
      for (const idx of batches(rng.permutation(train.n), batchSize)) {
        const B = idx.length;
        for (let i = 0; i < B; i++) {
          xb.set(train.x.subarray(idx[i]! * E, (idx[i]! + 1) * E), i * E);
          yb.set(train.y.subarray(idx[i]! * C, (idx[i]! + 1) * C), i * C);
        }
        yield { x: xb.subarray(0, B * E), y: yb.subarray(0, B * C), rows: B }; // [B, E], [B, C]
      }
    },
  };
}

/** Options of {@link fitLinear} and {@link fitStreamed}. */
export interface FitOptions {
  gemm?: Gemm;
  onEpoch?: (log: EpochLog) => void;
  /** Initial weights `[dim, classes]` instead of N(0, initStd) draws (for golden tests). */
  initWeight?: Float32Array;
}

/**
 * Trains a linear probe on `train`, choosing the epoch (or, for `evar`,
 * stopping early) by the metric on `valid`.
 *
 * @example
 * ```ts
 * const fit = await fitLinear({ train, valid, dim: 768, classes: 10, multiLabel: false }, protocolConfig("reference"));
 * const scores = await predictProbe(fit.probe, test.x, test.n);
 * ```
 */
export function fitLinear(
  data: { train: ProbeData; valid: ProbeData; dim: number; classes: number; multiLabel: boolean },
  cfg: ProbeConfig,
  opts: FitOptions = {},
): Promise<FitResult> {
  const { train, valid, dim, classes, multiLabel } = data;
  const gemm = opts.gemm ?? jsGemm;
  return fitStreamed(
    {
      train: arraySource(train, dim, classes),
      validMetric: async (probe) =>
        probeMetric(
          await predictProbe(probe, valid.x, valid.n, gemm),
          valid.y,
          classes,
          multiLabel,
        ),
      dim,
      classes,
      multiLabel,
    },
    cfg,
    opts,
  );
}

/**
 * {@link fitLinear} on a {@link TrainSource}, with the validation metric of
 * a probe computed by `validMetric` (so validation can be streamed too).
 * With {@link arraySource} it is fitLinear, step for step.
 */
export async function fitStreamed(
  data: {
    train: TrainSource;
    validMetric: (probe: LinearProbe) => Promise<number>;
    dim: number;
    classes: number;
    multiLabel: boolean;
  },
  cfg: ProbeConfig,
  opts: FitOptions = {},
): Promise<FitResult> {
  const { train, dim: E, classes: C, multiLabel } = data;
  const gemm = opts.gemm ?? jsGemm;
  const rng = new Rng(cfg.seed);
  const lrs = lrSchedule(cfg);
  const fixed = await train.meanStd();
  if (opts.initWeight && opts.initWeight.length !== E * C) {
    throw new Error("initWeight must hold dim * classes values");
  }
  const tr = new LinearProbeTrainer(E, C, cfg, rng, opts.initWeight);
  const grad = new Float32Array(E * C + C);

  let best: LinearProbe | undefined;
  let bestEpoch = 0;
  let bestValid = -Infinity;
  const history: EpochLog[] = [];
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const lr = lrs[epoch - 1]!;
    let lossSum = 0;
    let nBatches = 0;
    for await (const { x, y: yb, rows: B } of train.epoch(epoch, rng, cfg.batchSize)) {
      tr.standardise(x, B, fixed); // x: [B, E]
      const z = await gemm.forward(x, tr.p, { rows: B, dim: E, classes: C }); // [B, C]
      // z becomes dz = dLoss/dz in place.
      let loss = 0;
      for (let i = 0; i < B; i++) {
        const row = z.subarray(i * C, (i + 1) * C);
        const y = yb.subarray(i * C, (i + 1) * C);
        for (let c = 0; c < C; c++) row[c]! += tr.p[E * C + c]!;
        if (multiLabel) {
          // BCEWithLogits, mean over B * C: softplus(z) - z * y, written stably.
          for (let c = 0; c < C; c++) {
            const zc = row[c]!;
            loss += Math.max(zc, 0) - zc * y[c]! + Math.log1p(Math.exp(-Math.abs(zc)));
            row[c] = (1 / (1 + Math.exp(-zc)) - y[c]!) / (B * C);
          }
        } else {
          const zy = row.reduce((s, zc, c) => s + zc * y[c]!, 0);
          loss += activateSoftmax(row) - zy;
          for (let c = 0; c < C; c++) row[c] = (row[c]! - y[c]!) / B;
        }
      }
      lossSum += multiLabel ? loss / (B * C) : loss / B;
      nBatches++;
      grad.set(await gemm.gradW(x, z, { rows: B, dim: E, classes: C })); // [E, C]
      grad.fill(0, E * C);
      for (let i = 0; i < B; i++) for (let c = 0; c < C; c++) grad[E * C + c]! += z[i * C + c]!;
      tr.update(grad, lr);
    }
    const loss = lossSum / nBatches;
    if (!Number.isFinite(loss)) {
      throw new UserError(
        `Probe training diverged: loss is ${loss} at epoch ${epoch} (check the embeddings for NaN or huge values)`,
      );
    }
    const probe = snapshot(tr, fixed, multiLabel);
    const metric = await data.validMetric(probe);
    const log = { epoch, lr, loss, valid: metric };
    history.push(log);
    opts.onEpoch?.(log);
    if (best === undefined || metric > bestValid) {
      best = probe;
      bestEpoch = epoch;
      bestValid = metric;
    }
    if (cfg.patience > 0 && epoch - bestEpoch >= cfg.patience) break;
  }
  const last = snapshot(tr, fixed, multiLabel);
  return { probe: best!, last, bestEpoch, bestValid, epochsRun: history.length, history };
}
