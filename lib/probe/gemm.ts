/**
 * The two matrix products of probe training, behind one small interface so
 * they can run as plain loops (fastest for tfjs's `cpu` backend, whose
 * kernels are slower than a JIT-compiled loop) or through tfjs on a fast
 * backend (`wasm`, `native`, `webgpu`) when there are many classes.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";

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

/** Plain-loop products (row-major, inner loop over classes). */
export const jsGemm: Gemm = {
  name: "js",
  forward(x, w, { rows, dim, classes }) {
    const z = new Float32Array(rows * classes);
    for (let i = 0; i < rows; i++) {
      const zo = i * classes, xo = i * dim;
      for (let e = 0; e < dim; e++) {
        const a = x[xo + e]!;
        if (a === 0) continue;
        const wo = e * classes;
        for (let c = 0; c < classes; c++) z[zo + c]! += a * w[wo + c]!;
      }
    }
    return Promise.resolve(z);
  },
  gradW(x, dz, { rows, dim, classes }) {
    const g = new Float32Array(dim * classes);
    for (let i = 0; i < rows; i++) {
      const zo = i * classes, xo = i * dim;
      for (let e = 0; e < dim; e++) {
        const a = x[xo + e]!;
        if (a === 0) continue;
        const go = e * classes;
        for (let c = 0; c < classes; c++) g[go + c]! += a * dz[zo + c]!;
      }
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
 * The product implementation for the active tfjs backend: plain loops on
 * `cpu` (and for few classes, where a loop beats the round trip), tfjs otherwise.
 */
export function chooseGemm(classes: number): Gemm {
  return tf.getBackend() === "cpu" || classes <= 4 ? jsGemm : tfGemm;
}
