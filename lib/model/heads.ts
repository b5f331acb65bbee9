/**
 * The projector and predictor of ATST's teacher-student training (REFERENCE.md §3):
 * Linear(no bias) -> BatchNorm1d -> ReLU -> Linear(no bias). Parameter
 * names follow the reference's `nn.Sequential` (`0.weight`, `1.weight`,
 * `1.bias`, `1.running_mean`, `1.running_var`, `3.weight`). Linear weights
 * are held [in, out], the transpose of PyTorch's [out, in], as the encoder
 * holds them (matmuls without a transpose flag, which wasm runs much
 * slower); {@link torchLayout} names what to transpose for PyTorch.
 *
 * @module
 */
import {
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  tf,
  tfSeed,
  type Variable,
} from "../backend/tf.ts";

/**
 * The ranks a synchronised BatchNorm averages over: `allreduce` sums a
 * buffer over all of them, in place (a {@link Collective} of lib/dist).
 */
export interface BatchSync {
  readonly size: number;
  allreduce(buf: Float32Array): void;
}

/** Widths of one head. */
export interface HeadConfig {
  inDim: number;
  /** Hidden width (4096 in the reference). */
  hidden: number;
  /** Output width (256 in the reference). */
  outDim: number;
  /** BatchNorm momentum for running statistics (PyTorch convention). */
  bnMomentum?: number;
  /** BatchNorm epsilon. */
  bnEps?: number;
}

/** Options of {@link MlpHead}. */
export interface HeadOptions {
  /** Prefix of the tfjs variable names, e.g. "student/projector". */
  name?: string;
  /** Seed of the initial weights. */
  seed?: number;
  /** Whether the parameters receive gradients. */
  trainable?: boolean;
  /**
   * Synchronise the BatchNorm over these ranks (PyTorch's SyncBatchNorm):
   * batch statistics of all ranks' rows in the forward, the matching sums
   * of the gradient in the backward. Absent: plain BatchNorm1d.
   */
  sync?: BatchSync;
}

let instances = 0;

/** True for head parameters held [in, out] here and [out, in] in PyTorch. */
export function torchLayout(name: string): boolean {
  return name === "0.weight" || name === "3.weight";
}

/**
 * Linear -> BatchNorm1d -> ReLU -> Linear, initialised as PyTorch does
 * (Linear weights U(-1/sqrt(in), 1/sqrt(in)), BN scale 1 and shift 0).
 *
 * @example
 * ```ts
 * const proj = new MlpHead({ inDim: 384, hidden: 4096, outDim: 256 }, { name: "student/projector" });
 * const z = proj.forward(cls, { training: true }); // [B, 256]
 * proj.commitRunningStats();
 * ```
 */
export class MlpHead {
  readonly cfg: Required<HeadConfig>;
  #params = new Map<string, Variable>();
  #buffers = new Map<string, Variable>();
  #pending: [Tensor, Tensor] | null = null;
  readonly #sync?: BatchSync;

  constructor(cfg: HeadConfig, opts: HeadOptions = {}) {
    this.cfg = { bnMomentum: 0.1, bnEps: 1e-5, ...cfg };
    this.#sync = opts.sync && opts.sync.size > 1 ? opts.sync : undefined;
    const { inDim, hidden, outDim } = this.cfg;
    const prefix = `${opts.name ?? "head"}#${instances++}`;
    const trainable = opts.trainable ?? true;
    const seed = opts.seed ?? 0;
    const v = (key: string, t: Tensor, train: boolean) => tf.variable(t, train, `${prefix}/${key}`);
    tf.tidy(() => {
      const b0 = 1 / Math.sqrt(inDim);
      const b3 = 1 / Math.sqrt(hidden);
      this.#params.set(
        "0.weight",
        v(
          "0.weight",
          tf.randomUniform([inDim, hidden], -b0, b0, "float32", tfSeed(seed)),
          trainable,
        ),
      );
      this.#params.set("1.weight", v("1.weight", tf.ones([hidden]), trainable));
      this.#params.set("1.bias", v("1.bias", tf.zeros([hidden]), trainable));
      this.#params.set(
        "3.weight",
        v(
          "3.weight",
          tf.randomUniform([hidden, outDim], -b3, b3, "float32", tfSeed(seed + 1)),
          trainable,
        ),
      );
      this.#buffers.set("1.running_mean", v("1.running_mean", tf.zeros([hidden]), false));
      this.#buffers.set("1.running_var", v("1.running_var", tf.ones([hidden]), false));
    });
  }

  /** Learned parameters, keyed by the reference's names. */
  params(): Map<string, Variable> {
    return this.#params;
  }

  /** BatchNorm running statistics (not learned, not EMA-updated). */
  buffers(): Map<string, Variable> {
    return this.#buffers;
  }

  /**
   * Applies the head to `x` [N, inDim]. In training, BatchNorm normalises
   * with the batch's mean and biased variance and remembers them; call
   * {@link commitRunningStats} after the step to fold them into the
   * running statistics. In eval mode the running statistics are used.
   */
  forward(x: Tensor2D, opts: { training: boolean }): Tensor2D {
    const p = (k: string) => this.#params.get(k)!;
    const eps = this.cfg.bnEps;
    return tf.tidy(() => {
      const h = tf.matMul(x, p("0.weight")) as Tensor2D; // [N, H]
      if (opts.training && this.#sync) {
        const bn = syncBatchNorm(h, p("1.weight"), p("1.bias"), eps, this.#sync);
        this.#setPending(tf.keep(bn.mean), tf.keep(bn.unbiasedVar));
        return tf.matMul(tf.relu(bn.y), p("3.weight")) as Tensor2D; // [N, out]
      }
      let mean: Tensor, variance: Tensor;
      if (opts.training) {
        const n = h.shape[0];
        if (n < 2) throw new Error(`BatchNorm in training needs at least 2 rows, got ${n}`);
        mean = tf.mean(h, 0); // [H]
        variance = tf.mean(tf.square(tf.sub(h, mean)), 0); // [H], biased
        // Kept past this tidy (and past variableGrads); committed after the step.
        this.#setPending(tf.keep(tf.clone(mean)), tf.keep(tf.mul(variance, n / (n - 1))));
      } else {
        mean = this.#buffers.get("1.running_mean")!;
        variance = this.#buffers.get("1.running_var")!;
      }
      const inv = tf.rsqrt(tf.add(variance, eps)); // [H]
      const norm = tf.add(tf.mul(tf.mul(tf.sub(h, mean), inv), p("1.weight")), p("1.bias")); // [N, H]
      return tf.matMul(tf.relu(norm), p("3.weight")) as Tensor2D; // [N, out]
    });
  }

  /**
   * Folds the last training batch's statistics into the running ones:
   * r <- (1 - momentum) * r + momentum * batch (unbiased variance), as torch.
   */
  commitRunningStats(): void {
    if (!this.#pending) return;
    const [mean, variance] = this.#pending;
    const mom = this.cfg.bnMomentum;
    const rm = this.#buffers.get("1.running_mean")!;
    const rv = this.#buffers.get("1.running_var")!;
    tf.tidy(() => {
      rm.assign(tf.add(tf.mul(rm, 1 - mom), tf.mul(mean, mom)));
      rv.assign(tf.add(tf.mul(rv, 1 - mom), tf.mul(variance, mom)));
    });
    this.#setPending(null);
  }

  /** Frees all variables and any uncommitted batch statistics. */
  dispose(): void {
    this.#setPending(null);
    for (const t of this.#params.values()) t.dispose();
    for (const t of this.#buffers.values()) t.dispose();
  }

  #setPending(mean: Tensor | null, variance?: Tensor): void {
    if (this.#pending) {
      this.#pending[0].dispose();
      this.#pending[1].dispose();
    }
    this.#pending = mean && variance ? [mean, variance] : null;
  }
}

/**
 * BatchNorm1d in training over the rows of every rank (`h` [n, H] is this
 * rank's): the mean and biased variance of all rows, found in two
 * allreduces (sums, then squared deviations from the global mean, which
 * keeps float32 accurate), and a backward that sums dy and dy * xhat over
 * all ranks, as torch's SyncBatchNorm. The gradients of `gamma` and
 * `beta` are this rank's share, like every other parameter's before the
 * gradients are averaged.
 */
function syncBatchNorm(
  h: Tensor2D,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  sync: BatchSync,
): { y: Tensor2D; mean: Tensor1D; unbiasedVar: Tensor1D } {
  const [n, H] = h.shape;
  const sums = new Float32Array(H + 1);
  sums.set(tf.tidy(() => tf.sum(h, 0)).dataSync() as Float32Array); // [H]
  sums[H] = n;
  sync.allreduce(sums);
  const total = sums[H]!;
  if (total < 2) throw new Error(`BatchNorm in training needs at least 2 rows, got ${total}`);
  const mean = tf.tensor1d(sums.subarray(0, H).map((v) => v / total)); // [H]
  const sq = tf.tidy(() => tf.sum(tf.square(tf.sub(h, mean)), 0)).dataSync() as Float32Array; // [H]
  const m2 = Float32Array.from(sq);
  sync.allreduce(m2);
  const variance = tf.tensor1d(m2.map((v) => v / total)); // [H], biased
  const inv = tf.rsqrt(tf.add(variance, eps)); // [H]
  const normalize = tf.customGrad((hIn, g, b, save) => {
    const xhat = tf.mul(tf.sub(hIn as Tensor, mean), inv); // [n, H]
    // Saved (kept by the tape): the backward runs after this forward's tidy has ended.
    (save as tf.GradSaveFunc)([xhat, inv]);
    return {
      value: tf.add(tf.mul(xhat, g as Tensor), b as Tensor), // [n, H]
      gradFunc: (dy, saved) => {
        const [xh, invS] = saved as Tensor[];
        const dyT = dy as Tensor;
        const sumDy = tf.sum(dyT, 0); // [H]
        const sumDyXhat = tf.sum(tf.mul(dyT, xh!), 0); // [H]
        const global = new Float32Array(2 * H);
        global.set(sumDy.dataSync() as Float32Array);
        global.set(sumDyXhat.dataSync() as Float32Array, H);
        sync.allreduce(global);
        const gSumDy = tf.tensor1d(global.subarray(0, H)); // [H]
        const gSumDyXhat = tf.tensor1d(global.subarray(H)); // [H]
        // dh = gamma * inv / N * (N dy - sum dy - xhat * sum(dy xhat)), sums over all ranks.
        const dh = tf.mul(
          tf.sub(tf.sub(tf.mul(dyT, total), gSumDy), tf.mul(xh!, gSumDyXhat)),
          tf.div(tf.mul(g as Tensor, invS!), total),
        ); // [n, H]
        return [dh, sumDyXhat, sumDy];
      },
    };
  });
  const y = normalize(h, gamma, beta) as Tensor2D; // [n, H]
  return { y, mean, unbiasedVar: tf.mul(variance, total / (total - 1)) as Tensor1D };
}
