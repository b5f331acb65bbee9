/**
 * Hand-written JS kernels that beat tfjs's generic cpu ones on the
 * encoder's shapes (elementwise with broadcasting, transpose, reductions,
 * softmax).
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { layoutKernels } from "./layout.ts";
import { softmaxKernel } from "./softmax.ts";

/** Kernel configs that replace cpu kernels on `backendName`. */
export function fastKernels(backendName: string): tf.KernelConfig[] {
  return [
    ...elementwiseKernels(backendName),
    ...layoutKernels(backendName),
    softmaxKernel(backendName),
  ];
}
