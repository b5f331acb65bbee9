/**
 * The one place that imports TensorFlow.js. Everything else imports `tf`
 * from here, so the backend set-up (lib/backend/backend.ts) and the model
 * code always share one tfjs-core instance.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";

// PROD silences tfjs's "install tfjs-node" banner and skips per-op debug checks.
tf.env().set("PROD", true);

export { tf };
export type {
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  Variable,
} from "@tensorflow/tfjs-core";

/**
 * Maps a user seed (0, 1, 2, ...) to a seed for tfjs's random ops. tfjs
 * treats a seed of 0 as "no seed" (it tests the seed for truthiness) and
 * would draw from Math.random, so every seed is shifted by one.
 */
export function tfSeed(seed: number): number {
  return (Math.abs(Math.trunc(seed)) % 0x7fffffff) + 1;
}
