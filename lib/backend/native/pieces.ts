/**
 * Kernels that cut tensors into pieces or join them (Concat, Pack, Unpack,
 * SplitV, PadV2) for the "native" backend, as block copies. tfjs's cpu
 * versions go through its generic per-element slice; in the encoder's
 * backward pass (gradients of concat, unstack and slice) they cost more than
 * the matmuls they sit between.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { alloc, stridedCopy } from "./layout.ts";
import { overrideCpu } from "./_override.ts";
import { isPlain, tensorValues, type Values } from "./_tensor_data.ts";

type TensorInfo = tf.TensorInfo;

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Joins same-dtype `parts` along `axis` (their other dims equal) into `out`. */
function concatInto(parts: { v: Values; shape: number[] }[], axis: number, out: Values): void {
  const outer = size(parts[0]!.shape.slice(0, axis));
  const inners = parts.map((p) => size(p.shape.slice(axis)));
  const row = inners.reduce((s, n) => s + n, 0);
  let off = 0;
  parts.forEach((p, i) => {
    const n = inners[i]!;
    if (n > 0) {
      for (let o = 0; o < outer; o++) out.set(p.v.subarray(o * n, (o + 1) * n), o * row + off);
    }
    off += n;
  });
}

/** Kernel configs for Concat, Pack, Unpack, SplitV and PadV2 on `backendName`. */
export function pieceKernels(backendName: string): tf.KernelConfig[] {
  return [
    overrideCpu("Concat", backendName, (args) => {
      const inputs = args.inputs as unknown as TensorInfo[];
      const { axis } = args.attrs as unknown as { axis: number | number[] };
      const dtype = inputs[0]?.dtype;
      if (!inputs.length || !inputs.every((t) => isPlain(t) && t.dtype === dtype)) {
        return undefined;
      }
      const $axis = tf.util.parseAxisParam(axis, inputs[0]!.shape)[0]!;
      const shape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), $axis);
      const backend = args.backend as MathBackendCPU;
      const out = alloc(backend, dtype!, size(shape));
      concatInto(
        inputs.map((t) => ({ v: tensorValues(backend, t), shape: t.shape })),
        $axis,
        out,
      );
      return backend.makeTensorInfo(shape, dtype!, out);
    }),
    overrideCpu("Pack", backendName, (args) => {
      const inputs = args.inputs as unknown as TensorInfo[];
      const { axis } = args.attrs as unknown as { axis: number };
      const first = inputs[0];
      if (
        !first || !inputs.every((t) => isPlain(t) && t.dtype === first.dtype) ||
        !inputs.every((t) => tf.util.arraysEqual(t.shape, first.shape))
      ) return undefined;
      const $axis = axis < 0 ? axis + first.shape.length + 1 : axis;
      const one = [...first.shape.slice(0, $axis), 1, ...first.shape.slice($axis)];
      const shape = [...first.shape.slice(0, $axis), inputs.length, ...first.shape.slice($axis)];
      const backend = args.backend as MathBackendCPU;
      const out = alloc(backend, first.dtype, size(shape));
      concatInto(inputs.map((t) => ({ v: tensorValues(backend, t), shape: one })), $axis, out);
      return backend.makeTensorInfo(shape, first.dtype, out);
    }),
    overrideCpu("Unpack", backendName, (args) => {
      const { value } = args.inputs as { value: TensorInfo };
      const { axis } = args.attrs as unknown as { axis: number };
      if (!isPlain(value)) return undefined;
      const r = value.shape.length, $axis = axis < 0 ? axis + r : axis;
      const n = value.shape[$axis]!;
      const shape = value.shape.filter((_, i) => i !== $axis);
      const strides = tf.util.computeStrides(value.shape).concat([1]);
      const dims = value.shape.map((d, i) => (i === $axis ? 1 : d));
      const backend = args.backend as MathBackendCPU;
      const v = tensorValues(backend, value);
      return Array.from({ length: n }, (_, k) => {
        const out = alloc(backend, value.dtype, size(shape));
        stridedCopy(v, k * strides[$axis]!, dims, strides.slice(0, r), out);
        return backend.makeTensorInfo(shape, value.dtype, out);
      });
    }),
    overrideCpu("SplitV", backendName, (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const { numOrSizeSplits, axis } = args.attrs as unknown as {
        numOrSizeSplits: number | number[];
        axis: number;
      };
      if (!isPlain(x)) return undefined;
      const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
      const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis);
      const strides = tf.util.computeStrides(x.shape).concat([1]);
      const backend = args.backend as MathBackendCPU;
      const v = tensorValues(backend, x);
      let begin = 0;
      return sizes.map((s) => {
        const shape = x.shape.map((d, i) => (i === $axis ? s : d));
        const out = alloc(backend, x.dtype, size(shape));
        stridedCopy(v, begin * strides[$axis]!, shape, strides.slice(0, x.shape.length), out);
        begin += s;
        return backend.makeTensorInfo(shape, x.dtype, out);
      });
    }),
    overrideCpu("PadV2", backendName, (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const { paddings, constantValue } = args.attrs as unknown as {
        paddings: [number, number][];
        constantValue: number;
      };
      if (!isPlain(x) || x.shape.length === 0) return undefined;
      const shape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
      const backend = args.backend as MathBackendCPU;
      const out = alloc(backend, x.dtype, size(shape));
      out.fill(constantValue); // the pool's buffers are not zeroed
      const v = tensorValues(backend, x);
      // Copy x's last-axis rows into the interior, walking x's outer index like an odometer.
      const r = x.shape.length, row = x.shape[r - 1]!;
      const outStrides = tf.util.computeStrides(shape).concat([1]);
      const outer = x.shape.slice(0, -1);
      const idx = new Array<number>(outer.length).fill(0);
      let dst = paddings.reduce((s, [before], i) => s + before * outStrides[i]!, 0);
      for (let src = 0; src < v.length && row > 0; src += row) {
        out.set(v.subarray(src, src + row), dst);
        for (let d = outer.length - 1; d >= 0; d--) {
          dst += outStrides[d]!;
          if (++idx[d]! < outer[d]!) break;
          dst -= outStrides[d]! * outer[d]!;
          idx[d] = 0;
        }
      }
      return backend.makeTensorInfo(shape, x.dtype, out);
    }),
  ];
}
