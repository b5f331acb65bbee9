/**
 * LayerNorm as one op with its own gradient. On a backend with the
 * {@link LAYER_NORM} kernel (the "native" backend) it is one pass forward
 * and one backward that saves only the input and per-row statistics;
 * elsewhere it is composed from tfjs ops with the same math.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { LAYER_NORM, LAYER_NORM_GRAD } from "./kernel_names.ts";

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
  if (!hasKernel(LAYER_NORM, [x, weight, bias])) {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true); // [..., 1]
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
    }) as T;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, mean, rstd] = runKernel(LAYER_NORM, { x, weight: w, bias: b }, {
      eps,
    }) as tf.Tensor[]; // [..., D], [...], [...]
    save([x, w, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sm, sr] = saved;
        return runKernel(LAYER_NORM_GRAD, {
          dy,
          x: sx!,
          weight: sw!,
          mean: sm!,
          rstd: sr!,
        }) as tf.Tensor[];
      },
    };
  });
  return f(x, weight, bias) as T;
}
