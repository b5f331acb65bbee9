/**
 * Exact GELU as one op with its own gradient. On a backend with the
 * {@link GELU} kernel (the "native" backend) it is one pass forward and
 * one backward that saves only the input; elsewhere it is composed from
 * tfjs ops with the same math.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { GELU, GELU_GRAD } from "./kernel_names.ts";

/**
 * Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's nn.GELU() default).
 *
 * @example
 * ```ts
 * const h = gelu(fc1Out); // same shape as fc1Out
 * ```
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (!hasKernel(GELU, [x])) {
    return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))) as T;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: runKernel(GELU, { x }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        runKernel(GELU_GRAD, { dy, x: saved[0]! }) as tf.Tensor,
    };
  });
  return f(x) as T;
}
