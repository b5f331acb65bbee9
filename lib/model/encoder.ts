/**
 * The ATST encoder on TensorFlow.js, both families: ATST-Clip (the
 * reference's "AST" module, REFERENCE.md §2) and ATST-Frame ("FrameAST",
 * REFERENCE.md §8.3), which differ only before the blocks (_family.ts)
 * and in the name of the final norm.
 *
 * Read bottom-up: Linear, LayerNorm, Attention, MLP, Block, and the
 * Encoder that composes them; their math (linear, layerNorm, attention,
 * gelu) is the ops in lib/ops, each with its own gradient and a faster
 * kernel where the backend has one. Parameters are tfjs Variables
 * keyed by the reference's names. Linear weights are held [in, out], the
 * transpose of PyTorch's [out, in], so every matmul runs without a
 * transpose flag (tfjs-backend-wasm is about 6x slower with transposeB);
 * checkpoint I/O transposes them (see {@link isLinearWeight}). Every
 * forward is differentiable.
 *
 * @module
 */
import { tf, tfSeed } from "../backend/tf.ts";
import { linear } from "../ops/linear.ts";
import { gelu } from "../ops/gelu.ts";
import { layerNorm } from "../ops/layer_norm.ts";
import { attention } from "../ops/attention.ts";
import { type EncoderConfig, validateConfig } from "./config.ts";
import { blockInput, keyMask, leadTokens } from "./_family.ts";

/** A named parameter store shared by the parts of one encoder. */
class Store {
  readonly vars = new Map<string, tf.Variable>();
  #seed: number;
  constructor(
    readonly prefix: string,
    seed: number,
    readonly trainable: boolean,
    readonly random: boolean,
  ) {
    this.#seed = seed;
  }
  /** Creates the variable `name` (a reference name) with an initial value. */
  add(name: string, init: "normal" | "zeros" | "ones", shape: number[]): tf.Variable {
    const value = tf.tidy(() => {
      if (init === "zeros" || (!this.random && init === "normal")) return tf.zeros(shape);
      if (init === "ones") return tf.ones(shape);
      // The reference's trunc_normal_(std=.02) truncates at +-2 absolute, that is
      // at 100 std: a plain normal in practice. The clip keeps the bound honest.
      return tf.clipByValue(
        tf.randomNormal(shape, 0, 0.02, "float32", tfSeed(this.#seed++)),
        -2,
        2,
      );
    });
    const v = tf.variable(value, this.trainable, `${this.prefix}/${name}`);
    value.dispose();
    this.vars.set(name, v);
    return v;
  }
}

/**
 * Rows of a batch that is one rank's share of a larger one: row `i` here is
 * row `rows[i]` of the whole batch of `total` rows. Random per-sample draws
 * are made for the whole batch and this share takes its rows, so a sample
 * draws the same whichever rank holds it.
 */
export interface BatchShard {
  rows: number[];
  total: number;
}

/** Per-sample stochastic depth: zero a residual branch with probability `rate`. */
function dropPath(y: tf.Tensor3D, rate: number, seed: number, shard?: BatchShard): tf.Tensor3D {
  if (rate <= 0) return y;
  const keep = 1 - rate;
  // floor(keep + U[0,1)) is 1 with probability keep, as the reference draws it.
  const u = shard
    ? tf.gather(tf.randomUniform([shard.total, 1, 1], 0, 1, "float32", tfSeed(seed)), shard.rows) // [B, 1, 1]
    : tf.randomUniform([y.shape[0], 1, 1], 0, 1, "float32", tfSeed(seed)); // [B, 1, 1]
  return tf.mul(y, tf.div(tf.floor(tf.add(u, keep)), keep));
}

/** nn.Linear with its weight held [in, out]; optional bias [out]. */
class Linear {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(store: Store, name: string, inF: number, outF: number, bias = true) {
    this.weight = store.add(`${name}.weight`, "normal", [inF, outF]);
    if (bias) this.bias = store.add(`${name}.bias`, "zeros", [outF]);
  }
  /** x [M, in] -> [M, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, this.weight as tf.Tensor2D, this.bias); // [M, out]
  }
}

/** nn.LayerNorm with weight 1 and bias 0 at init. */
class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(store: Store, name: string, dim: number, readonly eps: number) {
    this.weight = store.add(`${name}.weight`, "ones", [dim]);
    this.bias = store.add(`${name}.bias`, "zeros", [dim]);
  }
  apply<T extends tf.Tensor>(x: T): T {
    return layerNorm(x, this.weight, this.bias, this.eps) as T;
  }
}

/** Multi-head self-attention: one qkv matmul, heads batched, additive key mask. */
class Attention {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly scale: number;
  constructor(store: Store, name: string, dim: number, readonly heads: number) {
    this.qkv = new Linear(store, `${name}.qkv`, dim, 3 * dim, false);
    this.proj = new Linear(store, `${name}.proj`, dim, dim);
    this.scale = (dim / heads) ** -0.5;
  }
  apply(x: tf.Tensor3D, mask: tf.Tensor | null): tf.Tensor3D {
    const [B, N, D] = x.shape;
    const qkv = tf.reshape(this.qkv.apply(tf.reshape(x, [B * N, D])), [B, N, 3 * D]); // [B, N, 3D]
    // softmax(q k^T * scale + mask) v over heads; one fused op where the backend has it.
    const ctx = attention(qkv as tf.Tensor3D, mask, this.heads, this.scale); // [B, N, D]
    return tf.reshape(this.proj.apply(tf.reshape(ctx, [B * N, D])), [B, N, D]);
  }
}

/** fc1 -> exact GELU -> fc2. */
class Mlp {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(store: Store, name: string, dim: number, hidden: number) {
    this.fc1 = new Linear(store, `${name}.fc1`, dim, hidden);
    this.fc2 = new Linear(store, `${name}.fc2`, hidden, dim);
  }
  apply(x: tf.Tensor3D): tf.Tensor3D {
    const [B, N, D] = x.shape;
    const h = gelu(this.fc1.apply(tf.reshape(x, [B * N, D]))) as tf.Tensor2D; // [B*N, 4D]
    return tf.reshape(this.fc2.apply(h), [B, N, D]);
  }
}

/** Pre-norm transformer block. */
class Block {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(store: Store, name: string, cfg: EncoderConfig, readonly dropRate: number) {
    this.norm1 = new LayerNorm(store, `${name}.norm1`, cfg.dim, cfg.lnEps);
    this.attn = new Attention(store, `${name}.attn`, cfg.dim, cfg.heads);
    this.norm2 = new LayerNorm(store, `${name}.norm2`, cfg.dim, cfg.lnEps);
    this.mlp = new Mlp(store, `${name}.mlp`, cfg.dim, cfg.dim * cfg.mlpRatio);
  }
  /** `seed` is set only in training; it drives the two drop-path draws. */
  apply(x: tf.Tensor3D, mask: tf.Tensor | null, seed?: number, shard?: BatchShard): tf.Tensor3D {
    const rate = seed === undefined ? 0 : this.dropRate;
    x = tf.add(x, dropPath(this.attn.apply(this.norm1.apply(x), mask), rate, seed ?? 0, shard));
    return tf.add(x, dropPath(this.mlp.apply(this.norm2.apply(x)), rate, (seed ?? 0) + 1, shard));
  }
}

/**
 * Names in code (timm style) -> the reference's parameter names. Blocks use
 * the same names in both (`blocks.{i}.norm1`, `.attn.qkv`, `.attn.proj`,
 * `.norm2`, `.mlp.fc1`, `.mlp.fc2`); these are the only ones that differ.
 * This is the one mapping table; checkpoints and imports go through it.
 */
export const REFERENCE_NAMES = {
  patchEmbed: "patch_embed.patch_embed",
  clsToken: "cls_token",
  posEmbed: "pos_embed",
  maskEmbed: "mask_embed",
  blocks: "blocks",
  /** The final norm of ATST-Clip; ATST-Frame calls it {@link REFERENCE_NAMES.normFrame}. */
  norm: "norm",
  normFrame: "norm_frame",
} as const;

/**
 * True for the Linear weights (patch embedding, qkv, proj, fc1, fc2): held
 * [in, out] here, stored [out, in] in checkpoints, as PyTorch does.
 */
export function isLinearWeight(name: string): boolean {
  return /^(patch_embed\.patch_embed|blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2))\.weight$/
    .test(name);
}

let instances = 0;

/** Options of the {@link Encoder} constructor. */
export interface EncoderOptions {
  /** tfjs variable name prefix (variable names are global in tfjs), e.g. "student/encoder". */
  name?: string;
  /** Seed of the initial weights (random when absent). */
  seed?: number;
  /** Whether the variables are trainable (default true). */
  trainable?: boolean;
  /** Draw random initial weights (default true); false starts them at zero, for loading. */
  randomInit?: boolean;
}

/** Options of {@link Encoder.forward}. */
export interface ForwardOptions {
  /** Training mode: drop path active (with `seed`), block inputs kept for the tape. */
  training?: boolean;
  seed?: number;
  /** `x` is one rank's rows of a larger batch (drop-path draws follow the row). */
  shard?: BatchShard;
  /** ATST-Frame pre-training: [B, N] with 1 where a token becomes `mask_embed`. */
  mask?: tf.Tensor2D;
}

/**
 * The ATST encoder: 64x4 patches -> Linear -> ([CLS] +) positions ->
 * blocks -> final LayerNorm. Input [B, 64, T] log-mel, `lengths` in frames.
 * Outputs have `lead + N` tokens: the [CLS] first for ATST-Clip (lead 1),
 * only the N patch tokens for ATST-Frame (lead 0).
 *
 * @example
 * ```ts
 * const enc = new Encoder(encoderConfig("tiny"), { seed: 1 });
 * const y = enc.forward(tf.zeros([2, 64, 400]), [400, 250]); // [2, 101, 192]
 * const f = new Encoder(encoderConfig("tiny", { family: "frame" }), { seed: 1 });
 * const z = f.forward(tf.zeros([2, 64, 400]), [400, 250]); // [2, 100, 192]
 * ```
 */
export class Encoder {
  readonly cfg: EncoderConfig;
  readonly patchEmbed: Linear;
  /** ATST-Clip only (null for ATST-Frame). */
  readonly clsToken: tf.Variable | null;
  readonly posEmbed: tf.Variable;
  /** ATST-Frame's masked-token input; unused by ATST-Clip, kept so checkpoints round-trip. */
  readonly maskEmbed: tf.Variable;
  readonly blocks: Block[];
  /** The final norm (`norm` of ATST-Clip, `norm_frame` of ATST-Frame). */
  readonly norm: LayerNorm;
  /** Tokens in front of the patch tokens: 1 ([CLS]) for ATST-Clip, 0 for ATST-Frame. */
  readonly lead: number;
  #store: Store;

  constructor(cfg: EncoderConfig, opts: EncoderOptions = {}) {
    this.cfg = { ...cfg };
    validateConfig(this.cfg);
    const clip = this.cfg.family === "clip";
    this.lead = leadTokens(this.cfg.family);
    const name = opts.name ?? `encoder${instances++}`;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    const s = this.#store = new Store(name, seed, opts.trainable ?? true, opts.randomInit ?? true);
    const { dim: D, depth, nMels, patchFrames } = cfg;
    const R = REFERENCE_NAMES;
    this.patchEmbed = new Linear(s, R.patchEmbed, nMels * patchFrames, D);
    this.clsToken = clip ? s.add(R.clsToken, "normal", [1, 1, D]) : null;
    this.posEmbed = s.add(R.posEmbed, "normal", [1, cfg.maxPatches + 1, D]);
    this.maskEmbed = s.add(R.maskEmbed, "normal", [1, 1, D]);
    this.blocks = Array.from({ length: depth }, (_, i) => {
      // Stochastic depth rises linearly over the blocks (torch.linspace(0, rate, depth)).
      const rate = depth > 1 ? (cfg.dropPathRate * i) / (depth - 1) : 0;
      return new Block(s, `${R.blocks}.${i}`, cfg, rate);
    });
    this.norm = new LayerNorm(s, clip ? R.norm : R.normFrame, D, cfg.lnEps);
  }

  /** All parameters, keyed by the reference's names (Linear weights [in, out]). */
  params(): Map<string, tf.Variable> {
    return this.#store.vars;
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    let n = 0;
    for (const v of this.#store.vars.values()) n += v.size;
    return n;
  }

  /** Tokens [B, lead+N, D] after the final norm. Differentiable. */
  forward(x: tf.Tensor3D, lengths: number[], opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.norm.apply(this.#run(x, lengths, opts, 0).last));
  }

  /** The outputs of the last `n` blocks (n clipped to the depth), each through the final norm. */
  blockOutputs(x: tf.Tensor3D, lengths: number[], n: number): tf.Tensor3D[] {
    return tf.tidy(() => this.#run(x, lengths, {}, n).kept.map((y) => this.norm.apply(y)));
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.#store.vars.values()) v.dispose();
    this.#store.vars.clear();
  }

  #run(
    x: tf.Tensor3D,
    lengths: number[],
    opts: ForwardOptions,
    keep: number,
  ): { last: tf.Tensor3D; kept: tf.Tensor3D[] } {
    const [B, F, T] = x.shape;
    const { nMels, patchFrames: P, depth, dim: D } = this.cfg;
    if (F !== nMels) throw new Error(`Encoder input has ${F} mel bands, expected ${nMels}`);
    if (lengths.length !== B) throw new Error(`Got ${lengths.length} lengths for a batch of ${B}`);
    const N = Math.floor(T / P);
    if (N > this.cfg.maxPatches) {
      throw new Error(
        `Encoder input of ${T} frames has ${N} patches, more than the ${this.cfg.maxPatches} positions`,
      );
    }
    if (N === 0 && this.lead === 0) {
      throw new Error(`Encoder input of ${T} frames holds no patch (ATST-Frame has no [CLS])`);
    }
    let tokens = tf.zeros([B, 0, D]) as tf.Tensor3D; // [B, 0, D]
    if (N > 0) {
      const cut = tf.reshape(tf.slice(x, [0, 0, 0], [B, F, N * P]), [B, F, N, P]); // [B, 64, N, 4]
      // Patch element order p1 * 4 + p2: frequency row, then frame (fastest).
      const patches = tf.reshape(tf.transpose(cut, [0, 2, 1, 3]), [B * N, F * P]); // [B*N, 256]
      tokens = tf.reshape(this.patchEmbed.apply(patches as tf.Tensor2D), [B, N, D]); // [B, N, D]
    }
    const { clsToken, posEmbed, maskEmbed } = this;
    let h = blockInput(
      { family: this.cfg.family, clsToken, posEmbed, maskEmbed },
      tokens,
      opts.mask,
    ); // [B, lead+N, D]
    const mask = keyMask(lengths, N, P, this.lead);
    const training = opts.training === true;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    const kept: tf.Tensor3D[] = [];
    for (let i = 0; i < depth; i++) {
      const prev = h;
      h = tf.tidy(() =>
        this.blocks[i]!.apply(prev, mask, training ? seed + 2 * i : undefined, opts.shard)
      );
      // Inference frees each block's input as soon as it is used: peak memory is one block's
      // intermediates, not all twelve (792 -> 355 MB for small, batch 8 x 6 s). Training keeps
      // them: the gradient tape needs them.
      if (!training && !kept.includes(prev)) prev.dispose();
      if (depth - i <= keep) kept.push(h);
    }
    return { last: h, kept };
  }
}
