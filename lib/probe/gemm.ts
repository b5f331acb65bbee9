/**
 * The two matrix products of probe training, behind one small interface so
 * they can run as plain loops (fastest where tfjs's kernels are slower
 * than a JIT-compiled loop) or through tfjs on a backend with BLAS or GPU
 * matrix products when there are many classes.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasFastMatrixProducts } from "../backend/backend.ts";

/** Sizes of one product: `x` is `[rows, dim]`, the weight `[dim, classes]`. */
export interface GemmShape {
  rows: number;
  dim: number;
  classes: number;
}

/** z = x W (`[rows, classes]`) and g = x^T dz (`[dim, classes]`). */
export interface Gemm {
  /** Which implementation (for the report). */
  name: string;
  /** x `[rows, dim]` times the first dim * classes values of `w` (row-major `[dim, classes]`). */
  forward(x: Float32Array, w: Float32Array, s: GemmShape): Promise<Float32Array>;
  /** x^T `[dim, rows]` times dz `[rows, classes]`. */
  gradW(x: Float32Array, dz: Float32Array, s: GemmShape): Promise<Float32Array>;
}

/**
 * Plain-loop products. Four rows at a time against a transposed weight, so
 * each weight (or gradient) value loaded serves four multiply-adds and the
 * dot products accumulate in float64 registers: about 2-3x faster than the
 * naive triple loop, and a little more accurate.
 */
export const jsGemm: Gemm = {
  name: "js",
  forward(x, w, { rows, dim, classes }) {
    const wt = new Float32Array(classes * dim); // [C, E]
    for (let e = 0; e < dim; e++) {
      for (let c = 0; c < classes; c++) wt[c * dim + e] = w[e * classes + c]!;
    }
    const z = new Float32Array(rows * classes); // [rows, C]
    let i = 0;
    for (; i + 4 <= rows; i += 4) {
      const o0 = i * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
      for (let c = 0; c < classes; c++) {
        const wo = c * dim;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let e = 0; e < dim; e++) {
          const wv = wt[wo + e]!;
          s0 += x[o0 + e]! * wv;
          s1 += x[o1 + e]! * wv;
          s2 += x[o2 + e]! * wv;
          s3 += x[o3 + e]! * wv;
        }
        z[i * classes + c] = s0;
        z[(i + 1) * classes + c] = s1;
        z[(i + 2) * classes + c] = s2;
        z[(i + 3) * classes + c] = s3;
      }
    }
    for (; i < rows; i++) {
      for (let c = 0; c < classes; c++) {
        let s = 0;
        for (let e = 0; e < dim; e++) s += x[i * dim + e]! * wt[c * dim + e]!;
        z[i * classes + c] = s;
      }
    }
    return Promise.resolve(z);
  },
  gradW(x, dz, { rows, dim, classes }) {
    const gt = new Float32Array(classes * dim); // [C, E]
    let i = 0;
    for (; i + 4 <= rows; i += 4) {
      const o0 = i * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
      for (let c = 0; c < classes; c++) {
        const d0 = dz[i * classes + c]!, d1 = dz[(i + 1) * classes + c]!;
        const d2 = dz[(i + 2) * classes + c]!, d3 = dz[(i + 3) * classes + c]!;
        const go = c * dim;
        for (let e = 0; e < dim; e++) {
          gt[go + e]! += d0 * x[o0 + e]! + d1 * x[o1 + e]! + d2 * x[o2 + e]! + d3 * x[o3 + e]!;
        }
      }
    }
    for (; i < rows; i++) {
      for (let c = 0; c < classes; c++) {
        const d = dz[i * classes + c]!;
        for (let e = 0; e < dim; e++) gt[c * dim + e]! += d * x[i * dim + e]!;
      }
    }
    const g = new Float32Array(dim * classes); // [E, C]
    for (let c = 0; c < classes; c++) {
      for (let e = 0; e < dim; e++) g[e * classes + c] = gt[c * dim + e]!;
    }
    return Promise.resolve(g);
  },
};

/** Products through tfjs's active backend; every tensor is freed before returning. */
export const tfGemm: Gemm = {
  name: "tfjs",
  async forward(x, w, { rows, dim, classes }) {
    const z = tf.tidy(() =>
      tf.matMul(
        tf.tensor2d(x, [rows, dim]),
        tf.tensor2d(w.subarray(0, dim * classes), [dim, classes]),
      )
    ); // [rows, C]
    try {
      return (await z.data()) as Float32Array;
    } finally {
      z.dispose();
    }
  },
  async gradW(x, dz, { rows, dim, classes }) {
    const g = tf.tidy(() =>
      tf.matMul(tf.tensor2d(x, [rows, dim]), tf.tensor2d(dz, [rows, classes]), true, false)
    ); // [E, C]
    try {
      return (await g.data()) as Float32Array;
    } finally {
      g.dispose();
    }
  },
};

/**
 * The product implementation for the active tfjs backend: the plain loops,
 * except on a backend with BLAS or GPU matrix products
 * ({@link hasFastMatrixProducts}) when there are enough classes to pay for
 * the copies. (Elsewhere, on `cpu` and `wasm`, the loops measured faster:
 * 2.0 s vs 5.8 s per epoch at 5000 x 9216 x 10 classes, 4.5 s vs 8.3 s at
 * 50 classes.)
 */
export function chooseGemm(classes: number): Gemm {
  return hasFastMatrixProducts() && classes > 4 ? tfGemm : jsGemm;
}
