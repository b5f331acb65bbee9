/**
 * Principal component analysis to 2 (or a few) dimensions in Float64, for
 * the demo's embedding plot. Orthogonal (subspace) iteration on the sample
 * covariance with a Rayleigh-Ritz step each round, so components come out
 * ordered by variance; the covariance is never formed (each round costs two
 * passes over the data), which keeps 768-d embeddings cheap.
 *
 * @module
 */

/** A fitted PCA. */
export interface Pca {
  /** Per-feature mean, length d (before any standardisation). */
  mean: Float64Array;
  /** k unit-length principal axes, each length d, by decreasing variance. */
  components: Float64Array[];
  /** Variance along each component (unbiased, n - 1). */
  explainedVariance: number[];
  /** Share of the total variance along each component. */
  explainedVarianceRatio: number[];
  /** The data projected on the components, row-major [n, k]. */
  projected: Float64Array;
}

/** Options for {@link pca}. */
export interface PcaOptions {
  /** Number of components (default 2). */
  k?: number;
  /** Iteration cap (default 2000). */
  maxIter?: number;
  /**
   * Scale every feature to unit variance first (correlation PCA), as the
   * linear probe standardises its inputs; constant features stay 0.
   */
  standardize?: boolean;
  /** Stop when no component moves by more than this in any coordinate (default 1e-12). */
  tol?: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Gram-Schmidt (twice, for stability) on the columns `v`, in place. */
function orthonormalize(v: Float64Array[]): void {
  for (let j = 0; j < v.length; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const p = dot(v[j]!, v[i]!);
        for (let t = 0; t < v[j]!.length; t++) v[j]![t]! -= p * v[i]![t]!;
      }
    }
    const norm = Math.sqrt(dot(v[j]!, v[j]!)) || 1;
    for (let t = 0; t < v[j]!.length; t++) v[j]![t]! /= norm;
  }
}

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations. */
function symmetricEigen(a: number[][]): { values: number[]; vectors: number[][] } {
  const k = a.length;
  const m = a.map((r) => [...r]);
  const q: number[][] = Array.from(
    { length: k },
    (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) off += m[i]![j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let r = p + 1; r < k; r++) {
        if (Math.abs(m[p]![r]!) < 1e-300) continue;
        const theta = (m[r]![r]! - m[p]![p]!) / (2 * m[p]![r]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let i = 0; i < k; i++) {
          const mip = m[i]![p]!, mir = m[i]![r]!;
          m[i]![p] = c * mip - s * mir;
          m[i]![r] = s * mip + c * mir;
        }
        for (let i = 0; i < k; i++) {
          const mpi = m[p]![i]!, mri = m[r]![i]!;
          m[p]![i] = c * mpi - s * mri;
          m[r]![i] = s * mpi + c * mri;
        }
        for (let i = 0; i < k; i++) {
          const qip = q[i]![p]!, qir = q[i]![r]!;
          q[i]![p] = c * qip - s * qir;
          q[i]![r] = s * qip + c * qir;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => m[y]![y]! - m[x]![x]!);
  return {
    values: order.map((i) => m[i]![i]!),
    vectors: order.map((i) => q.map((row) => row[i]!)),
  };
}

/**
 * Fits a PCA to `rows` (n rows of d features) and projects them.
 * Each component's sign is fixed so that its largest-magnitude loading is
 * positive, which makes the result reproducible (sklearn flips by the same
 * rule applied to the scores; tests compare up to sign).
 *
 * @example
 * ```ts
 * const { projected, explainedVarianceRatio } = pca(embeddings, { k: 2 });
 * ```
 */
export function pca(rows: ArrayLike<number>[], opts: PcaOptions = {}): Pca {
  const n = rows.length;
  const d = n ? rows[0]!.length : 0;
  const k = opts.k ?? 2;
  if (n < 2) throw new Error(`PCA needs at least 2 rows, got ${n}`);
  if (k < 1 || k > Math.min(n, d)) {
    throw new Error(`PCA cannot give ${k} components from ${n}x${d} data`);
  }
  const x = rows.map((r, i) => {
    if (r.length !== d) throw new Error(`PCA row ${i} has ${r.length} values, expected ${d}`);
    return Float64Array.from(r);
  });
  const mean = new Float64Array(d);
  for (const r of x) for (let j = 0; j < d; j++) mean[j]! += r[j]! / n;
  let total = 0;
  for (const r of x) {
    for (let j = 0; j < d; j++) {
      r[j]! -= mean[j]!;
      total += r[j]! ** 2;
    }
  }
  if (opts.standardize) {
    for (let j = 0; j < d; j++) {
      let ss = 0;
      for (const r of x) ss += r[j]! ** 2;
      const sd = Math.sqrt(ss / n); // population std, as sklearn's StandardScaler
      for (const r of x) r[j] = sd > 0 ? r[j]! / sd : 0;
    }
    total = 0;
    for (const r of x) for (let j = 0; j < d; j++) total += r[j]! ** 2;
  }
  total /= n - 1;

  // C v = X^T (X v) / (n - 1), without forming C.
  const covTimes = (v: Float64Array): Float64Array => {
    const out = new Float64Array(d);
    for (const r of x) {
      const s = dot(r, v) / (n - 1);
      for (let j = 0; j < d; j++) out[j]! += s * r[j]!;
    }
    return out;
  };

  // A fixed, non-degenerate start (no randomness: the result must be repeatable).
  let v = Array.from(
    { length: k },
    (_, c) => Float64Array.from({ length: d }, (_, j) => Math.sin(1 + 7.3 * j + 3.1 * c * (j + 1))),
  );
  orthonormalize(v);
  const maxIter = opts.maxIter ?? 2000, tol = opts.tol ?? 1e-12;
  for (let it = 0; it < maxIter; it++) {
    const w = v.map(covTimes);
    orthonormalize(w);
    // Rayleigh-Ritz: rotate within the subspace so the columns are eigenvectors of C there.
    const cw = w.map(covTimes);
    const t = w.map((a) => cw.map((b) => dot(a, b)));
    const eig = symmetricEigen(t);
    const next = eig.vectors.map((coef) => {
      const out = new Float64Array(d);
      coef.forEach((c, i) => {
        for (let j = 0; j < d; j++) out[j]! += c * w[i]![j]!;
      });
      return out;
    });
    // Eigenvectors converge more slowly than eigenvalues: test the vectors (up to sign).
    let change = 0;
    next.forEach((c, i) => {
      const s = Math.sign(dot(c, v[i]!)) || 1;
      for (let j = 0; j < d; j++) change = Math.max(change, Math.abs(c[j]! - s * v[i]![j]!));
    });
    v = next;
    if (change < tol) break;
  }
  for (const c of v) {
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(c[j]!) > Math.abs(big)) big = c[j]!;
    if (big < 0) { for (let j = 0; j < d; j++) c[j] = -c[j]!; }
  }
  const projected = new Float64Array(n * k);
  x.forEach((r, i) => v.forEach((c, j) => (projected[i * k + j] = dot(r, c))));
  const explainedVariance = v.map((c) => dot(c, covTimes(c)));
  return {
    mean,
    components: v,
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((e) => (total > 0 ? e / total : 0)),
    projected,
  };
}
