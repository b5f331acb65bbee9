/**
 * One EMA step of one teacher parameter as a single op. On a backend with
 * the {@link EMA_STEP} kernel (the "native" backend) it is one pass over
 * the parameter instead of three; elsewhere it is composed from tfjs ops.
 * Both round to float32 in the same order, so they agree bit for bit.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { EMA_STEP } from "./kernel_names.ts";

/**
 * One EMA step, m * t + (1 - m) * s, as a new tensor.
 *
 * @example
 * ```ts
 * teacherParam.assign(emaStep(teacherParam, studentParam, 0.996));
 * ```
 */
export function emaStep(t: tf.Tensor, s: tf.Tensor, momentum: number): tf.Tensor {
  if (hasKernel(EMA_STEP, [t, s])) return runKernel(EMA_STEP, { t, s }, { momentum }) as tf.Tensor;
  return tf.tidy(() => tf.add(tf.mul(t, momentum), tf.mul(s, 1 - momentum)));
}
