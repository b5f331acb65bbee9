/**
 * Softmax over the last axis for the "native" backend: oneDNN's when it is
 * loaded, else one JS pass per row (tfjs's cpu kernel chains five kernels
 * and four temporaries).
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Dnnl } from "./_dnnl.ts";
import { overrideCpu } from "./_override.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

/** Row-wise softmax of `x` viewed as [rows, n] into `out`. */
export function softmaxRows(x: Float32Array, n: number, out: Float32Array): void {
  const rows = n > 0 ? x.length / n : 0;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[base + i]! > m) m = x[base + i]!;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[base + i]! - m);
      out[base + i] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let i = 0; i < n; i++) out[base + i]! *= inv;
  }
}

/** Kernel config for Softmax on `backendName`. */
export function softmaxKernel(backendName: string, dnnl?: Dnnl): tf.KernelConfig {
  return overrideCpu("Softmax", backendName, (args) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const { dim } = args.attrs as unknown as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== "float32" || rank === 0 || (dim !== -1 && dim !== rank - 1)) {
      return undefined;
    }
    const backend = args.backend as MathBackendCPU;
    const x = float32Values(backend, logits);
    const out = allocF32(backend, x.length);
    const n = logits.shape[rank - 1]!;
    if (dnnl && n > 0) dnnl.softmax(x, n, out);
    else softmaxRows(x, n, out);
    return backend.makeTensorInfo(logits.shape, "float32", out);
  });
}
