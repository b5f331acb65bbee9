/**
 * How an op in lib/ops reaches its kernel: asks the active backend whether
 * it registers the kernel, and runs it through the tfjs engine.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";

/** Whether the active backend registers kernel `name` and every tensor is float32. */
export function hasKernel(name: string, tensors: tf.Tensor[]): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined &&
    tensors.every((t) => t.dtype === "float32");
}

/** Runs kernel `name` on the active backend (one output or several). */
export function runKernel(
  name: string,
  inputs: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap = {},
): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
}
