/**
 * Hand-written JS kernels that beat tfjs's generic cpu ones on the
 * encoder's shapes (elementwise with broadcasting, transpose, slicing,
 * joining and splitting, reductions, softmax).
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { layoutKernels } from "./layout.ts";
import { pieceKernels } from "./pieces.ts";
import { softmaxKernel } from "./softmax.ts";
import type { Dnnl } from "./_dnnl.ts";

/** Kernel configs that replace cpu kernels on `backendName`. */
export function fastKernels(backendName: string, dnnl?: Dnnl): tf.KernelConfig[] {
  return [
    ...elementwiseKernels(backendName),
    ...layoutKernels(backendName),
    ...pieceKernels(backendName),
    softmaxKernel(backendName, dnnl),
  ];
}
