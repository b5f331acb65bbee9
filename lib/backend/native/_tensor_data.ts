/**
 * The typed arrays behind tensors on a backend that keeps its data in JS
 * arrays (cpu, native): what a kernel reads its inputs from, in place.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

/** The arrays such a backend keeps numeric tensors in. */
export type Values = Float32Array | Int32Array | Uint8Array;

/** Whether tensor `t` is real and numeric, so its data is one of {@link Values}. */
export function isPlain(t: tf.TensorInfo): boolean {
  return t.dtype !== "complex64" && t.dtype !== "string";
}

/** The array tensor `t`'s data lives in (no copy: kernels must not write into it). */
export function tensorValues(backend: MathBackendCPU, t: tf.TensorInfo): Values {
  return backend.data.get(t.dataId).values as Values;
}

/** {@link tensorValues} of a float32 tensor. */
export function float32Values(backend: MathBackendCPU, t: tf.TensorInfo): Float32Array {
  return tensorValues(backend, t) as Float32Array;
}
