/**
 * The kernels of the optimiser's per-parameter updates (lib/ops/adamw_step.ts,
 * lib/ops/ema_step.ts) for a backend that keeps float32 data in JS arrays:
 * one pass over each parameter, rounding every intermediate to float32 in
 * the order the composed tfjs ops do, so both agree bit for bit.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { ADAMW_STEP, EMA_STEP } from "../../ops/kernel_names.ts";
import type { AdamWStep } from "../../ops/adamw_step.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

type Info = tf.TensorInfo;
const f = Math.fround;

/**
 * Kernel configs for the AdamW and EMA steps on `backendName`. Constants
 * are float32, as tfjs makes scalars.
 */
export function optimizerStepKernels(backendName: string): tf.KernelConfig[] {
  return [
    {
      kernelName: ADAMW_STEP,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const h = attrs as unknown as AdamWStep;
        const pI = inputs.p as Info;
        const p = float32Values(b, pI), g = float32Values(b, inputs.g as Info);
        const m = float32Values(b, inputs.m as Info), v = float32Values(b, inputs.v as Info);
        const n = p.length;
        const pN = allocF32(b, n), mN = allocF32(b, n), vN = allocF32(b, n);
        const b1 = f(h.beta1), c1 = f(1 - h.beta1), b2 = f(h.beta2), c2 = f(1 - h.beta2);
        const eps = f(h.eps), step = f(h.stepSize), decay = f(h.decay);
        for (let i = 0; i < n; i++) {
          const gi = g[i]!;
          const mi = f(f(m[i]! * b1) + f(gi * c1));
          const vi = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
          const denom = f(f(Math.sqrt(vi)) + eps);
          let pi = f(p[i]! - f(f(mi / denom) * step));
          if (decay !== 0) pi = f(pi + f(pi * decay));
          pN[i] = pi;
          mN[i] = mi;
          vN[i] = vi;
        }
        return [pN, mN, vN].map((x) => b.makeTensorInfo(pI.shape, "float32", x));
      },
    },
    {
      kernelName: EMA_STEP,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const { momentum } = attrs as unknown as { momentum: number };
        const tI = inputs.t as Info;
        const t = float32Values(b, tI), s = float32Values(b, inputs.s as Info);
        const out = allocF32(b, t.length);
        const a = f(momentum), c = f(1 - momentum);
        for (let i = 0; i < t.length; i++) out[i] = f(t[i]! * a) + f(s[i]! * c);
        return b.makeTensorInfo(tI.shape, "float32", out);
      },
    },
  ];
}
