/**
 * Float32 elementwise kernels for the "native" backend. tfjs's cpu kernels
 * call a closure per element and, under broadcasting, rebuild index vectors
 * per element; these collapse the broadcast into at most four strided loops
 * and inline the arithmetic (one compiled loop per op, so V8 keeps each
 * monomorphic). Other dtypes and higher collapsed ranks use the cpu kernel.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { fastErf } from "./_fast_math.ts";
import { overrideCpu } from "./_override.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

type TensorInfo = tf.TensorInfo;
type BinaryLoop = (
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  dims: Int32Array,
  sa: Int32Array,
  sb: Int32Array,
) => void;
type UnaryLoop = (x: Float32Array, out: Float32Array) => void;

/** Binary ops: kernel name -> expression of `x` and `y` (same formulas as tfjs's cpu kernels). */
const BINARY: Record<string, string> = {
  Add: "x + y",
  Sub: "x - y",
  Multiply: "x * y",
  RealDiv: "x / y",
  SquaredDifference: "(x - y) * (x - y)",
  Maximum: "Math.max(x, y)",
  Minimum: "Math.min(x, y)",
};

/** Unary ops: kernel name -> expression of `x` (erf to float32 accuracy, see _fast_math.ts). */
const UNARY: Record<string, string> = {
  Exp: "Math.exp(x)",
  Log: "Math.log(x)",
  Sqrt: "Math.sqrt(x)",
  Rsqrt: "1 / Math.sqrt(x)",
  Square: "x * x",
  Neg: "-x",
  Abs: "Math.abs(x)",
  Reciprocal: "1 / x",
  Tanh: "Math.tanh(x)",
  Sigmoid: "1 / (1 + Math.exp(-x))",
  Relu: "x < 0 ? 0 : x",
  Erf: "fastErf(x)",
};

function compileBinary(expr: string): BinaryLoop {
  // Four nested loops over collapsed dims; the innermost has three variants by stride.
  const body = `
    const n0 = dims[0], n1 = dims[1], n2 = dims[2], n3 = dims[3];
    const a0 = sa[0], a1 = sa[1], a2 = sa[2], a3 = sa[3];
    const b0 = sb[0], b1 = sb[1], b2 = sb[2], b3 = sb[3];
    let o = 0;
    for (let i0 = 0; i0 < n0; i0++)
    for (let i1 = 0; i1 < n1; i1++)
    for (let i2 = 0; i2 < n2; i2++) {
      let ia = i0 * a0 + i1 * a1 + i2 * a2, ib = i0 * b0 + i1 * b1 + i2 * b2;
      if (a3 === 1 && b3 === 1) {
        for (let i = 0; i < n3; i++) { const x = a[ia + i], y = b[ib + i]; out[o++] = ${expr}; }
      } else if (b3 === 0) {
        const y = b[ib];
        for (let i = 0; i < n3; i++) { const x = a[ia + i]; out[o++] = ${expr}; }
      } else if (a3 === 0) {
        const x = a[ia];
        for (let i = 0; i < n3; i++) { const y = b[ib + i]; out[o++] = ${expr}; }
      } else {
        for (let i = 0; i < n3; i++) { const x = a[ia], y = b[ib]; ia += a3; ib += b3; out[o++] = ${expr}; }
      }
    }`;
  return new Function("a", "b", "out", "dims", "sa", "sb", body) as BinaryLoop;
}

function compileUnary(expr: string): UnaryLoop {
  const body = `return (x0, out) => {
    const n = x0.length;
    for (let i = 0; i < n; i++) { const x = x0[i]; out[i] = ${expr}; }
  };`;
  return new Function("fastErf", body)(fastErf) as UnaryLoop;
}

/** A broadcast collapsed to 4 dims with per-operand strides (0 = repeated), or null. */
export interface BroadcastPlan {
  dims: Int32Array;
  sa: Int32Array;
  sb: Int32Array;
}

/** Collapses the broadcast of `aShape` and `bShape` into <= 4 strided dims (null when it needs more). */
export function broadcastPlan(
  aShape: number[],
  bShape: number[],
  out: number[],
): BroadcastPlan | null {
  const r = out.length;
  const merged: { n: number; fa: boolean; fb: boolean }[] = [];
  for (let i = 0; i < r; i++) {
    const n = out[i]!;
    if (n === 1) continue;
    const da = aShape[i - (r - aShape.length)] ?? 1, db = bShape[i - (r - bShape.length)] ?? 1;
    const fa = da !== 1, fb = db !== 1;
    const last = merged[merged.length - 1];
    if (last && last.fa === fa && last.fb === fb) last.n *= n;
    else merged.push({ n, fa, fb });
  }
  if (merged.length > 4) return null;
  while (merged.length < 4) merged.unshift({ n: 1, fa: false, fb: false });
  const dims = new Int32Array(4), sa = new Int32Array(4), sb = new Int32Array(4);
  let strideA = 1, strideB = 1;
  for (let i = 3; i >= 0; i--) {
    const m = merged[i]!;
    dims[i] = m.n;
    sa[i] = m.fa ? strideA : 0;
    sb[i] = m.fb ? strideB : 0;
    if (m.fa) strideA *= m.n;
    if (m.fb) strideB *= m.n;
  }
  return { dims, sa, sb };
}

/** Kernel configs for the binary and unary ops above on `backendName`. */
export function elementwiseKernels(backendName: string): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [];
  for (const [name, expr] of Object.entries(BINARY)) {
    const loop = compileBinary(expr);
    configs.push(overrideCpu(name, backendName, (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
      const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const plan = broadcastPlan(a.shape, b.shape, shape);
      if (!plan) return undefined;
      const backend = args.backend as MathBackendCPU;
      const out = allocF32(backend, tf.util.sizeFromShape(shape));
      if (out.length > 0) {
        const [av, bv] = [float32Values(backend, a), float32Values(backend, b)];
        loop(av, bv, out, plan.dims, plan.sa, plan.sb);
      }
      return backend.makeTensorInfo(shape, "float32", out);
    }));
  }
  for (const [name, expr] of Object.entries(UNARY)) {
    const loop = compileUnary(expr);
    configs.push(overrideCpu(name, backendName, (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      if (x.dtype !== "float32") return undefined;
      const backend = args.backend as MathBackendCPU;
      const xv = float32Values(backend, x);
      const out = allocF32(backend, xv.length);
      loop(xv, out);
      return backend.makeTensorInfo(x.shape, "float32", out);
    }));
  }
  return configs;
}
