/**
 * The kernels behind lib/ops: the contract between an op and a backend
 * that speeds it up. A backend that registers one of these names (the
 * "native" backend registers all of them) runs the op as that kernel;
 * every other backend runs the op's composed tfjs fallback, with the same
 * math. All of them take and return float32 only.
 *
 * @module
 */

/** `linear` (linear.ts): x [M, in], weight [in, out], bias [out] -> x weight + bias [M, out]. */
export const LINEAR = "AtstLinear";

/** `gelu` (gelu.ts): x -> exact GELU of x (same shape). */
export const GELU = "AtstGelu";
/** Gradient of {@link GELU}: dy, x -> dx. */
export const GELU_GRAD = "AtstGeluGrad";

/**
 * `layerNorm` (layer_norm.ts): x [..., D], weight [D], bias [D], attr eps
 * -> y [..., D], mean [...] and rstd [...] (1 / sqrt(var + eps)).
 */
export const LAYER_NORM = "AtstLayerNorm";
/** Gradient of {@link LAYER_NORM}: dy, x, weight, mean, rstd -> dx, dweight, dbias. */
export const LAYER_NORM_GRAD = "AtstLayerNormGrad";

/**
 * `attention` (attention.ts): qkv [B, N, 3D], mask [B, 1, 1, N], attrs
 * heads and scale -> context [B, N, D] and probabilities [B, H, N, N].
 */
export const ATTENTION = "AtstAttention";
/** Gradient of {@link ATTENTION}: dy [B, N, D], qkv, probs, attrs heads and scale -> dqkv. */
export const ATTENTION_GRAD = "AtstAttentionGrad";

/** `adamwStep` (adamw_step.ts): p, g, m, v, attrs an `AdamWStep` -> new p, m, v. */
export const ADAMW_STEP = "AtstAdamW";
/** `emaStep` (ema_step.ts): t, s, attr momentum -> momentum * t + (1 - momentum) * s. */
export const EMA_STEP = "AtstEma";
