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
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable } from "@tensorflow/tfjs-core";
