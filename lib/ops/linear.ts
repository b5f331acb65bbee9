/**
 * A dense layer, x weight + bias, with its weight held [in, out] (the
 * transpose of PyTorch's nn.Linear weight, so the product needs no
 * transpose flag: tfjs-backend-wasm is about 6x slower with transposeB).
 *
 * On a backend with the {@link LINEAR} kernel (the "native" backend) the
 * bias is the matrix product's starting value, one kernel instead of a
 * product and an add; elsewhere it is tf.matMul plus tf.add. Not
 * tf.fused.matMul there: tfjs-backend-wasm 4.22 adds the bias wrongly in
 * fused products with transposeB.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { LINEAR } from "./kernel_names.ts";

/**
 * x [M, in] times weight [in, out], plus bias [out] when given (another
 * bias shape broadcasts as in tf.add, through the composed path).
 *
 * @example
 * ```ts
 * const y = linear(x, fc1Weight, fc1Bias); // [M, out]
 * ```
 */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
  if (!bias) return tf.matMul(x, weight); // [M, out]
  if (bias.rank !== 1 || !hasKernel(LINEAR, [x, weight, bias])) {
    return tf.tidy(() => tf.add(tf.matMul(x, weight), bias)); // [M, out]
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: runKernel(LINEAR, { x, weight: w, bias: b }) as tf.Tensor2D, // [M, out]
      // The gradients of matMul + add, so both paths train alike.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          tf.matMul(dy as tf.Tensor2D, sw, false, true), // [M, in]
          tf.matMul(sx, dy as tf.Tensor2D, true, false), // [in, out]
          tf.sum(dy, 0), // [out]
        ];
      },
    };
  });
  return f(x, weight, bias) as tf.Tensor2D;
}
