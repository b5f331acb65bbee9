/**
 * Evaluation metrics of the linear probe: accuracy (single label), macro
 * average precision and d-prime (multi-label). Definitions follow
 * scikit-learn's `accuracy_score`, `average_precision_score` and
 * `roc_auc_score` (tied scores form one threshold), so numbers can be
 * compared with Python tooling directly.
 *
 * Scores and targets are row-major `[N, C]` arrays.
 *
 * @module
 */

/**
 * Fraction of rows whose highest score is the target class (first index
 * wins ties, like `argmax`).
 *
 * @example
 * ```ts
 * accuracy(new Float32Array([0.9, 0.1, 0.2, 0.8]), Int32Array.from([0, 0]), 2); // 0.5
 * ```
 */
export function accuracy(
  scores: ArrayLike<number>,
  targets: ArrayLike<number>,
  classes: number,
): number {
  const n = targets.length;
  if (n === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if (argmaxRow(scores, i, classes) === targets[i]) correct++;
  }
  return correct / n;
}

/** Index of the largest value of row `i` of a `[N, C]` array. */
export function argmaxRow(scores: ArrayLike<number>, i: number, classes: number): number {
  let best = 0;
  let bestV = -Infinity;
  for (let c = 0; c < classes; c++) {
    const v = scores[i * classes + c]!;
    if (v > bestV) {
      bestV = v;
      best = c;
    }
  }
  return best;
}

/** Row indices sorted by descending score, with the distinct-threshold boundaries. */
function sortDesc(score: ArrayLike<number>): number[] {
  const idx = Array.from({ length: score.length }, (_, i) => i);
  idx.sort((a, b) => score[b]! - score[a]!);
  return idx;
}

/**
 * Average precision of one binary problem: sum over distinct score
 * thresholds of (recall step) x precision, as scikit-learn computes it.
 * NaN when there are no positives.
 *
 * @example
 * ```ts
 * averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // 0.8333...
 * ```
 */
export function averagePrecision(score: ArrayLike<number>, positive: ArrayLike<number>): number {
  const order = sortDesc(score);
  let totalPos = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]! > 0) totalPos++;
  if (totalPos === 0) return NaN;
  let tp = 0, fp = 0, prevRecall = 0, ap = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (positive[i]! > 0) tp++;
    else fp++;
    const next = order[k + 1];
    // Only close a threshold after the last of a run of tied scores.
    if (next !== undefined && score[next] === score[i]) continue;
    const recall = tp / totalPos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/**
 * Area under the ROC curve of one binary problem (Mann-Whitney statistic,
 * ties count one half). NaN unless both classes are present.
 */
export function rocAuc(score: ArrayLike<number>, positive: ArrayLike<number>): number {
  const order = sortDesc(score);
  let nPos = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]! > 0) nPos++;
  const nNeg = positive.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  // Walk groups of tied scores from the top: each positive in a group beats
  // every negative below it and half of the negatives tied with it.
  let negBelowCount = nNeg;
  let wins = 0;
  let k = 0;
  while (k < order.length) {
    let end = k;
    let pos = 0, neg = 0;
    while (end < order.length && score[order[end]!] === score[order[k]!]) {
      if (positive[order[end]!]! > 0) pos++;
      else neg++;
      end++;
    }
    negBelowCount -= neg;
    wins += pos * (negBelowCount + neg / 2);
    k = end;
  }
  return wins / (nPos * nNeg);
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation,
 * relative error below 1.2e-9 on (0, 1)).
 */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let x: number;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - lo) {
    const q = p - 0.5;
    const r = q * q;
    x = (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q /
      (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  return x;
}

/** d-prime of an AUC: sqrt(2) * Phi^-1(auc) (the AudioSet convention). */
export function dPrime(auc: number): number {
  return Math.SQRT2 * normalQuantile(auc);
}

/** Per-class and macro-averaged multi-label metrics. */
export interface MultiLabelMetrics {
  /** Mean of per-class average precision over classes with positives. */
  mAP: number;
  /** Mean of per-class ROC AUC over classes with positives and negatives. */
  auc: number;
  /** d-prime of the mean AUC. */
  dPrime: number;
  /** Per-class AP (NaN where the class has no positives). */
  ap: number[];
  /** Number of classes that entered the mAP average. */
  classesScored: number;
}

/**
 * Macro metrics of a multi-label problem. Classes without positives in
 * `targets` are left out of the mAP average (scikit-learn would count them
 * as 0 with a warning), and reported as NaN in `ap`.
 */
export function multiLabelMetrics(
  scores: ArrayLike<number>,
  targets: ArrayLike<number>,
  classes: number,
): MultiLabelMetrics {
  const n = Math.floor(targets.length / classes);
  const ap: number[] = [];
  const aucs: number[] = [];
  const col = new Float64Array(n);
  const pos = new Uint8Array(n);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) {
      col[i] = scores[i * classes + c]!;
      pos[i] = targets[i * classes + c]! > 0 ? 1 : 0;
    }
    ap.push(averagePrecision(col, pos));
    const auc = rocAuc(col, pos);
    if (!Number.isNaN(auc)) aucs.push(auc);
  }
  const scored = ap.filter((v) => !Number.isNaN(v));
  const mean = (xs: number[]) => xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN;
  const auc = mean(aucs);
  return { mAP: mean(scored), auc, dPrime: dPrime(auc), ap, classesScored: scored.length };
}
