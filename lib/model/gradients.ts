/**
 * Gradient functions for tfjs kernels.
 *
 * `@tensorflow/tfjs-core`'s Node build (the one Deno loads) ships no gradient
 * configs: they live in extension-less ESM files Deno cannot import, so
 * `tf.variableGrads` fails with "gradient function not found for Mean".
 * The `@tensorflow/tfjs` bundle registers all of them into tfjs-core's
 * global gradient registry (it shares the engine through the global
 * namespace). Loading it costs about 0.2 s, so only training loads it.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";

let loaded: Promise<void> | undefined;

/**
 * Registers tfjs's gradient functions (idempotent). Call before
 * `tf.grads`/`tf.variableGrads`.
 *
 * @example
 * ```ts
 * await enableGradients();
 * const { value, grads } = tf.variableGrads(() => loss());
 * ```
 */
export function enableGradients(): Promise<void> {
  loaded ??= (async () => {
    if (tf.getGradient("Mean") !== undefined) return;
    const backend = tf.getBackend();
    await import("@tensorflow/tfjs");
    // The bundle registers backends of its own; keep the one already chosen.
    if (backend && tf.getBackend() !== backend) await tf.setBackend(backend);
  })();
  return loaded;
}
