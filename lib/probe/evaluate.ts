/**
 * Linear evaluation of a labeled set whose embeddings are known: plans the
 * folds, trains one probe per fold, scores its best epoch on test, and
 * gathers everything the report and the predictions file need.
 *
 * @module
 */
import type { EmbeddingTable } from "./embeddings.ts";
import type { Gemm } from "./gemm.ts";
import type { LabeledSet } from "./labeled_set.ts";
import { checkFolds, planFolds } from "./splits.ts";
import { multiLabelMetrics } from "./metrics.ts";
import { type EpochLog, fitLinear, predictProbe, type ProbeData, probeMetric } from "./linear.ts";
import type { ProbeConfig } from "./protocols.ts";

/** Test metrics of one fold. */
export type TestMetrics = { accuracy: number } | { mAP: number; auc: number; dPrime: number };

/** The outcome of one fold. */
export interface FoldResult {
  fold: string;
  validFrom: string;
  counts: { train: number; valid: number; test: number };
  classCounts: {
    train: Record<string, number>;
    valid: Record<string, number>;
    test: Record<string, number>;
  };
  bestEpoch: number;
  epochsRun: number;
  valid: number;
  test: TestMetrics;
  seconds: number;
}

/** Everything a run produces. */
export interface ProbeOutcome {
  task: "single-label" | "multi-label";
  metric: "accuracy" | "mAP";
  classes: string[];
  classCounts: Record<string, number>;
  folds: FoldResult[];
  mean: Record<string, number>;
  /** Population standard deviation over folds (0 for a single split). */
  std: Record<string, number>;
  /** Per test example: item index, fold and class scores `[classes]`. */
  predictions: { item: number; fold: string; scores: Float32Array }[];
}

/** Options for {@link evaluateProbe}. */
export interface EvaluateOptions {
  gemm?: Gemm;
  onEpoch?: (fold: string, log: EpochLog) => void;
}

function countClasses(set: LabeledSet, idx: number[], classes: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
  for (const i of idx) for (const l of set.items[i]!.labels) out[l] = (out[l] ?? 0) + 1;
  return out;
}

function subset(
  table: EmbeddingTable,
  set: LabeledSet,
  idx: number[],
  classIndex: Map<string, number>,
): ProbeData {
  const { dim } = table;
  const C = classIndex.size;
  const x = new Float32Array(idx.length * dim);
  const y = new Float32Array(idx.length * C);
  idx.forEach((i, r) => {
    x.set(table.x.subarray(i * dim, (i + 1) * dim), r * dim);
    for (const l of set.items[i]!.labels) y[r * C + classIndex.get(l)!] = 1;
  });
  return { x, y, n: idx.length };
}

/** Per-metric mean and population standard deviation over folds' test metrics. */
export function foldMeanStd(
  tests: Record<string, number>[],
): { mean: Record<string, number>; std: Record<string, number> } {
  const mean: Record<string, number> = {};
  const std: Record<string, number> = {};
  for (const k of Object.keys(tests[0]!)) {
    const vs = tests.map((t) => t[k]!);
    const m = vs.reduce((s, v) => s + v, 0) / vs.length;
    mean[k] = m;
    std[k] = Math.sqrt(vs.reduce((s, v) => s + (v - m) ** 2, 0) / vs.length);
  }
  return { mean, std };
}

/**
 * Runs the probe on every fold of `set` with embeddings `table` (rows in
 * item order). Throws UserError for unusable sets before training anything.
 *
 * @example
 * ```ts
 * const set = await readLabeledSet("labels.csv");
 * const table = await readEmbeddings("emb/", set.items);
 * const out = await evaluateProbe(set, table, protocolConfig("reference"));
 * console.log(out.mean);
 * ```
 */
export async function evaluateProbe(
  set: LabeledSet,
  table: EmbeddingTable,
  cfg: ProbeConfig,
  opts: EvaluateOptions = {},
): Promise<ProbeOutcome> {
  const folds = planFolds(set, { seed: cfg.seed });
  const classes = checkFolds(set, folds);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const C = classes.length;
  const multiLabel = set.multiLabel;
  const results: FoldResult[] = [];
  const predictions: ProbeOutcome["predictions"] = [];
  for (const f of folds) {
    const t0 = performance.now();
    const train = subset(table, set, f.train, classIndex);
    const valid = subset(table, set, f.valid, classIndex);
    const test = subset(table, set, f.test, classIndex);
    const fit = await fitLinear(
      { train, valid, dim: table.dim, classes: C, multiLabel },
      cfg,
      { gemm: opts.gemm, onEpoch: (log) => opts.onEpoch?.(f.name, log) },
    );
    const scores = await predictProbe(fit.probe, test.x, test.n, opts.gemm);
    let metrics: TestMetrics;
    if (multiLabel) {
      const m = multiLabelMetrics(scores, test.y, C);
      metrics = { mAP: m.mAP, auc: m.auc, dPrime: m.dPrime };
    } else {
      metrics = { accuracy: probeMetric(scores, test.y, C, false) };
    }
    f.test.forEach((item, r) =>
      predictions.push({ item, fold: f.name, scores: scores.slice(r * C, (r + 1) * C) })
    );
    results.push({
      fold: f.name,
      validFrom: f.validFrom,
      counts: { train: f.train.length, valid: f.valid.length, test: f.test.length },
      classCounts: {
        train: countClasses(set, f.train, classes),
        valid: countClasses(set, f.valid, classes),
        test: countClasses(set, f.test, classes),
      },
      bestEpoch: fit.bestEpoch,
      epochsRun: fit.epochsRun,
      valid: fit.bestValid,
      test: metrics,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  const { mean, std } = foldMeanStd(results.map((r) => r.test as Record<string, number>));
  return {
    task: multiLabel ? "multi-label" : "single-label",
    metric: multiLabel ? "mAP" : "accuracy",
    classes,
    classCounts: countClasses(set, set.items.map((_, i) => i), classes),
    folds: results,
    mean,
    std,
    predictions,
  };
}
