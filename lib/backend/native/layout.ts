/**
 * Transpose, slice and reductions over one contiguous block of axes for the
 * "native" backend: strided loops over collapsed dims instead of tfjs's
 * per-element index arithmetic. Other cases use the cpu kernel.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { overrideCpu } from "./_override.ts";
import { float32Values, isPlain, tensorValues, type Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

/** An output array of `dtype` whose contents the kernel fully overwrites (pooled for float32). */
export const alloc = (backend: MathBackendCPU, dtype: string, n: number): Values =>
  dtype === "float32"
    ? allocF32(backend, n)
    : tf.util.getTypedArrayFromDType(dtype as "int32", n) as Values;

type TensorInfo = tf.TensorInfo;

/**
 * Copies `x` (shape `shape`) into `out` in the order of `perm`. Dims that
 * stay adjacent are merged, so [B, N, 3, H, hd] -> [3, B, H, N, hd] moves
 * rows of hd values.
 */
export function transposeInto(x: Values, shape: number[], perm: number[], out: Values): void {
  const inStrides = tf.util.computeStrides(shape).concat([1]);
  stridedCopy(x, 0, perm.map((p) => shape[p]!), perm.map((p) => inStrides[p]!), out);
}

/**
 * out[i0, i1, ...] = x[offset + i0 * strides[0] + i1 * strides[1] + ...]
 * over `dims` in row-major order; dims that are contiguous in x are merged.
 */
export function stridedCopy(
  x: Values,
  offset: number,
  dims: number[],
  strides: number[],
  out: Values,
): void {
  const ds: number[] = [], ss: number[] = [];
  for (let j = 0; j < dims.length; j++) {
    const n = dims[j]!;
    if (n === 1) continue;
    const k = ds.length - 1;
    if (k >= 0 && ss[k] === n * strides[j]!) {
      ds[k]! *= n;
      ss[k] = strides[j]!;
    } else {
      ds.push(n);
      ss.push(strides[j]!);
    }
  }
  const total = out.length;
  if (ds.length === 0) {
    if (total > 0) out[0] = x[offset]!;
    return;
  }
  const rank = ds.length;
  if (rank === 1 && ss[0] === 1) {
    out.set(x.subarray(offset, offset + total));
    return;
  }
  // The two innermost dims as plain loops (short rows, e.g. the 4-frame patch
  // columns, would otherwise pay the odometer per row); an odometer over the rest.
  const inner = ds[rank - 1]!, innerStride = ss[rank - 1]!;
  const mid = rank > 1 ? ds[rank - 2]! : 1, midStride = rank > 1 ? ss[rank - 2]! : 0;
  const outer = ds.slice(0, Math.max(rank - 2, 0)), outerStrides = ss.slice(0, outer.length);
  const idx = new Array<number>(outer.length).fill(0);
  const block = inner * mid;
  let src = offset;
  for (let o = 0; o < total; o += block) {
    for (let j = 0, s0 = src, oj = o; j < mid; j++, s0 += midStride, oj += inner) {
      if (innerStride === 1) {
        if (inner >= 256) out.set(x.subarray(s0, s0 + inner), oj);
        else for (let i = 0; i < inner; i++) out[oj + i] = x[s0 + i]!;
      } else {
        for (let i = 0, s = s0; i < inner; i++, s += innerStride) out[oj + i] = x[s]!;
      }
    }
    for (let d = outer.length - 1; d >= 0; d--) {
      src += outerStrides[d]!;
      if (++idx[d]! < outer[d]!) break;
      src -= outerStrides[d]! * outer[d]!;
      idx[d] = 0;
    }
  }
}

/** [outer, reduced, inner] sizes when `axes` are one contiguous block of `shape`, else null. */
function reduceBlock(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...axes].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]! + 1) return null;
  const lo = sorted[0]!, hi = sorted[sorted.length - 1]!;
  const size = (a: number, b: number) => shape.slice(a, b).reduce((p, d) => p * d, 1);
  return [size(0, lo), size(lo, hi + 1), size(hi + 1, shape.length)];
}

type Reducer = "sum" | "mean" | "max" | "min";

/** Reduces x viewed as [outer, red, inner] over the middle dim, accumulating in doubles. */
function reduce(
  x: Float32Array,
  [outer, red, inner]: [number, number, number],
  how: Reducer,
): Float32Array {
  const out = new Float32Array(outer * inner);
  if (red === 0) {
    if (how === "max" || how === "min") out.fill(how === "max" ? -Infinity : Infinity);
    if (how === "mean") out.fill(NaN);
    return out;
  }
  const scale = how === "mean" ? 1 / red : 1;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * red;
      if (how === "max" || how === "min") {
        let m = x[base]!;
        if (how === "max") {
          for (let r = 1; r < red; r++) {
            const v = x[base + r]!;
            if (v > m || Number.isNaN(v)) m = v;
          }
        } else {for (let r = 1; r < red; r++) {
            const v = x[base + r]!;
            if (v < m || Number.isNaN(v)) m = v;
          }}
        out[o] = m;
      } else {
        let s = 0;
        for (let r = 0; r < red; r++) s += x[base + r]!;
        out[o] = s * scale;
      }
    }
    return out;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * red * inner;
    if (how === "max" || how === "min") {
      for (let i = 0; i < inner; i++) acc[i] = x[base + i]!;
      for (let r = 1; r < red; r++) {
        const row = base + r * inner;
        for (let i = 0; i < inner; i++) {
          const v = x[row + i]!;
          if (how === "max" ? v > acc[i]! : v < acc[i]!) acc[i] = v;
          else if (Number.isNaN(v)) acc[i] = v;
        }
      }
    } else {
      acc.fill(0);
      for (let r = 0; r < red; r++) {
        const row = base + r * inner;
        for (let i = 0; i < inner; i++) acc[i]! += x[row + i]!;
      }
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i]! * scale;
  }
  return out;
}

/** Kernel configs for Transpose, Slice, Sum, Mean, Max and Min on `backendName`. */
export function layoutKernels(backendName: string): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [];
  configs.push(overrideCpu("Transpose", backendName, (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (!isPlain(x)) return undefined;
    const backend = args.backend as MathBackendCPU;
    const xv = tensorValues(backend, x);
    const shape = perm.map((p) => x.shape[p]!);
    const out = alloc(backend, x.dtype, xv.length);
    transposeInto(xv, x.shape, perm, out);
    return backend.makeTensorInfo(shape, x.dtype, out);
  }));
  configs.push(overrideCpu("Slice", backendName, (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { begin, size } = args.attrs as unknown as {
      begin: number | number[];
      size: number | number[];
    };
    if (!isPlain(x)) return undefined;
    const [$begin, $size] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [
      number[],
      number[],
    ];
    tf.slice_util.assertParamsValid(x as tf.Tensor, $begin, $size);
    const backend = args.backend as MathBackendCPU;
    const xv = tensorValues(backend, x);
    const strides = tf.util.computeStrides(x.shape).concat([1]);
    const offset = $begin.reduce((s, b, i) => s + b * strides[i]!, 0);
    const out = alloc(backend, x.dtype, tf.util.sizeFromShape($size));
    stridedCopy(xv, offset, $size, strides.slice(0, x.shape.length), out);
    return backend.makeTensorInfo($size, x.dtype, out);
  }));
  const reducers: [string, Reducer, string][] = [
    ["Sum", "sum", "axis"],
    ["Mean", "mean", "axis"],
    ["Max", "max", "reductionIndices"],
    ["Min", "min", "axis"],
  ];
  for (const [name, how, axisAttr] of reducers) {
    configs.push(overrideCpu(name, backendName, (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const attrs = args.attrs as unknown as Record<string, number | number[] | boolean>;
      if (x.dtype !== "float32") return undefined;
      const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      const block = axes.length > 0 ? reduceBlock(x.shape, axes) : null;
      if (!block) return undefined;
      const backend = args.backend as MathBackendCPU;
      const out = reduce(float32Values(backend, x), block, how);
      const shape = attrs.keepDims
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !axes.includes(i));
      return backend.makeTensorInfo(shape, "float32", out);
    }));
  }
  return configs;
}
