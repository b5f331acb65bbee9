/**
 * Multi-head self-attention as one op: softmax(q k^T * scale + mask) v from
 * the packed qkv projection. On a backend with the {@link ATTENTION} kernel
 * (the "native" backend runs it as BLAS products that read q, k and v in
 * place and write the context straight into [B, N, H * hd]) the head
 * transposes, the q/k/v copies and the separate scale and mask passes
 * disappear and the backward saves only the attention probabilities;
 * elsewhere it is composed from tfjs ops.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { ATTENTION, ATTENTION_GRAD } from "./kernel_names.ts";

/**
 * Self-attention over packed projections. `qkv` [B, N, 3 * D] holds q, k, v
 * in that order, heads contiguous (PyTorch's qkv Linear); `mask` is an
 * additive key mask [B, 1, 1, N] or null. Returns the heads' context
 * concatenated, [B, N, D], ready for the output projection.
 *
 * @example
 * ```ts
 * const ctx = attention(qkv, mask, 6, 64 ** -0.5); // [B, N, 384]
 * ```
 */
export function attention(
  qkv: tf.Tensor3D,
  mask: tf.Tensor | null,
  heads: number,
  scale: number,
): tf.Tensor3D {
  const [B, N, D3] = qkv.shape;
  const D = D3 / 3, hd = D / heads;
  if (!hasKernel(ATTENTION, [qkv])) {
    return tf.tidy(() => {
      const h = tf.transpose(tf.reshape(qkv, [B, N, 3, heads, hd]), [2, 0, 3, 1, 4]); // [3, B, H, N, hd]
      const [q, k, v] = tf.unstack(h) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]; // [B, H, N, hd]
      let logits: tf.Tensor = tf.matMul(tf.mul(q, scale), k, false, true); // [B, H, N, N]
      if (mask) logits = tf.add(logits, mask);
      const ctx = tf.matMul(tf.softmax(logits), v); // [B, H, N, hd]
      return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, N, D]) as tf.Tensor3D; // [B, N, D]
    });
  }
  const maskT = mask ?? tf.zeros([B, 1, 1, N]); // [B, 1, 1, N]
  const attrs = { heads, scale };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, m, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const outs = runKernel(ATTENTION, { qkv: x, mask: m }, attrs) as tf.Tensor[];
    const [ctx, probs] = outs; // [B, N, D], [B, H, N, N]
    save([x, probs!]);
    return {
      value: ctx!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const inputs = { dy, qkv: saved[0]!, probs: saved[1]! };
        const dqkv = runKernel(ATTENTION_GRAD, inputs, attrs) as tf.Tensor; // [B, N, 3D]
        return [dqkv, tf.zeros(m.shape)]; // the mask is a constant
      },
    };
  });
  const out = f(qkv, maskT) as tf.Tensor3D; // [B, N, D]
  if (!mask) maskT.dispose();
  return out;
}
