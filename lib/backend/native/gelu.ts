/**
 * The kernels of the exact GELU op (lib/ops/gelu.ts) for a backend that
 * keeps float32 data in JS arrays: oneDNN's eltwise GELU when it is
 * loaded, else one JS pass.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { GELU, GELU_GRAD } from "../../ops/kernel_names.ts";
import { fastErf } from "./_fast_math.ts";
import type { Dnnl } from "./_dnnl.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

type Info = tf.TensorInfo;
const INV_SQRT_2PI = 0.3989422804014327;

/** JS exact GELU (used when oneDNN is absent). */
export function geluForward(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = 0.5 * v * (1 + fastErf(v * Math.SQRT1_2));
  }
}

/** JS GELU gradient dy * GELU'(x) (used when oneDNN is absent). */
export function geluBackward(dy: Float32Array, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const cdf = 0.5 * (1 + fastErf(v * Math.SQRT1_2));
    out[i] = dy[i]! * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/** Kernel configs for GELU and its gradient on `backendName`; oneDNN's when `dnnl` is given. */
export function geluKernels(backendName: string, dnnl?: Dnnl): tf.KernelConfig[] {
  return [
    {
      kernelName: GELU,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU, x = inputs.x as Info;
        const xv = float32Values(b, x), out = allocF32(b, tf.util.sizeFromShape(x.shape));
        if (dnnl) dnnl.gelu(xv, out);
        else geluForward(xv, out);
        return b.makeTensorInfo(x.shape, "float32", out);
      },
    },
    {
      kernelName: GELU_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU, x = inputs.x as Info;
        const xv = float32Values(b, x), dy = float32Values(b, inputs.dy as Info);
        const out = allocF32(b, tf.util.sizeFromShape(x.shape));
        if (dnnl) dnnl.geluGrad(dy, xv, out);
        else geluBackward(dy, xv, out);
        return b.makeTensorInfo(x.shape, "float32", out);
      },
    },
  ];
}
