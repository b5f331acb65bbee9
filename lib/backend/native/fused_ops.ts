/**
 * Exact GELU and LayerNorm as single ops with their own gradients. On a
 * backend that has the fused kernels (the "native" backend registers them)
 * each is one pass forward and one backward, saving only its input (plus
 * per-row statistics for LayerNorm) for the gradient; elsewhere they are
 * composed from tfjs ops with the same math. Use these in the model instead
 * of composing the formulas by hand.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { fastErf } from "./_fast_math.ts";
import type { Dnnl } from "./_dnnl.ts";
import { allocF32 } from "./buffer_pool.ts";

const GELU = "AtstGelu";
const GELU_GRAD = "AtstGeluGrad";
const LN = "AtstLayerNorm";
const LN_GRAD = "AtstLayerNormGrad";

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs);

/**
 * Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's nn.GELU() default).
 *
 * @example
 * ```ts
 * const h = gelu(fc1Out); // same shape as fc1Out
 * ```
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (!hasKernel(GELU) || x.dtype !== "float32") {
    return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))) as T;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: run(GELU, { x }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run(GELU_GRAD, { dy, x: saved[0]! }) as tf.Tensor,
    };
  });
  return f(x) as T;
}

/**
 * LayerNorm over the last axis with biased variance (as PyTorch):
 * (x - mean) / sqrt(var + eps) * weight + bias, weight and bias [D].
 *
 * @example
 * ```ts
 * const y = layerNorm(x, norm1Weight, norm1Bias, 1e-6); // [B, N, D]
 * ```
 */
export function layerNorm<T extends tf.Tensor>(
  x: T,
  weight: tf.Tensor,
  bias: tf.Tensor,
  eps: number,
): T {
  if (!hasKernel(LN) || x.dtype !== "float32") {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
    }) as T;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, rstd] = run(LN, { x, weight: w, bias: b }, { eps }) as tf.Tensor[];
    save([x, w, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sm, sr] = saved;
        return run(LN_GRAD, { dy, x: sx!, weight: sw!, mean: sm!, rstd: sr! }) as tf.Tensor[];
      },
    };
  });
  return f(x, weight, bias) as T;
}

type Info = tf.TensorInfo;
const vals = (b: MathBackendCPU, t: Info) => b.data.get(t.dataId).values as Float32Array;
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

function lnForward(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  const d = w.length, rows = mean.length;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let i = 0; i < d; i++) s += x[o + i]!;
    const m = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - m;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs * w[i]! + b[i]!;
    mean[r] = m;
    rstd[r] = rs;
  }
}

function lnBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  db: Float32Array,
): void {
  const d = w.length, rows = mean.length;
  const dwAcc = new Float64Array(d), dbAcc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d, m = mean[r]!, rs = rstd[r]!;
    // With xhat = (x - mean) rstd and g = dy w: dx = rstd (g - mean(g) - xhat mean(g xhat)).
    let sg = 0, sgx = 0;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - m) * rs, g = dy[o + i]! * w[i]!;
      sg += g;
      sgx += g * xh;
      dwAcc[i]! += dy[o + i]! * xh;
      dbAcc[i]! += dy[o + i]!;
    }
    sg /= d;
    sgx /= d;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - m) * rs;
      dx[o + i] = rs * (dy[o + i]! * w[i]! - sg - xh * sgx);
    }
  }
  for (let i = 0; i < d; i++) {
    dw[i] = dwAcc[i]!;
    db[i] = dbAcc[i]!;
  }
}

/**
 * The fused kernels for a backend that keeps float32 data in JS arrays
 * (cpu, native); GELU runs in oneDNN when `dnnl` is given.
 */
export function fusedOpKernels(backendName: string, dnnl?: Dnnl): tf.KernelConfig[] {
  return [
    {
      kernelName: GELU,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU, x = inputs.x as Info;
        const out = allocF32(b, tf.util.sizeFromShape(x.shape));
        if (dnnl) dnnl.gelu(vals(b, x), out);
        else geluForward(vals(b, x), out);
        return b.makeTensorInfo(x.shape, "float32", out);
      },
    },
    {
      kernelName: GELU_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU, x = inputs.x as Info, dy = inputs.dy as Info;
        const out = allocF32(b, tf.util.sizeFromShape(x.shape));
        if (dnnl) dnnl.geluGrad(vals(b, dy), vals(b, x), out);
        else geluBackward(vals(b, dy), vals(b, x), out);
        return b.makeTensorInfo(x.shape, "float32", out);
      },
    },
    {
      kernelName: LN,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const x = inputs.x as Info, w = inputs.weight as Info, bias = inputs.bias as Info;
        const d = x.shape[x.shape.length - 1]!;
        if (
          w.shape.length !== 1 || w.shape[0] !== d || bias.shape.length !== 1 || bias.shape[0] !== d
        ) {
          throw new Error(`LayerNorm weight ${w.shape} and bias ${bias.shape} must both be [${d}]`);
        }
        const size = tf.util.sizeFromShape(x.shape), rows = d > 0 ? size / d : 0;
        const y = allocF32(b, size),
          mean = new Float32Array(rows),
          rstd = new Float32Array(rows);
        lnForward(
          vals(b, x),
          vals(b, w),
          vals(b, bias),
          (attrs as { eps: number }).eps,
          y,
          mean,
          rstd,
        );
        const rowShape = x.shape.slice(0, -1);
        return [
          b.makeTensorInfo(x.shape, "float32", y),
          b.makeTensorInfo(rowShape, "float32", mean),
          b.makeTensorInfo(rowShape, "float32", rstd),
        ];
      },
    },
    {
      kernelName: LN_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU;
        const x = inputs.x as Info, w = inputs.weight as Info;
        const size = tf.util.sizeFromShape(x.shape), d = w.shape[0]!;
        const dx = allocF32(b, size), dw = new Float32Array(d), db = new Float32Array(d);
        lnBackward(
          vals(b, inputs.dy as Info),
          vals(b, x),
          vals(b, w),
          vals(b, inputs.mean as Info),
          vals(b, inputs.rstd as Info),
          dx,
          dw,
          db,
        );
        return [
          b.makeTensorInfo(x.shape, "float32", dx),
          b.makeTensorInfo([d], "float32", dw),
          b.makeTensorInfo([d], "float32", db),
        ];
      },
    },
  ];
}
