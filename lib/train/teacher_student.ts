/**
 * The two networks of ATST pre-training (REFERENCE.md §3) and one optimisation
 * step. Student = encoder + projector + predictor; teacher = encoder +
 * projector, built by the same factory, loaded from the student, never
 * given to the optimiser and moved by one EMA step after each update.
 * Both run in training mode (batch statistics, drop path), as the
 * reference does.
 *
 * @module
 */
import { type Tensor, type Tensor2D, type Tensor3D, tf, type Variable } from "../backend/tf.ts";
import type { EncoderConfig } from "../model/config.ts";
import { Encoder } from "../model/encoder.ts";
import type { BatchShard } from "../model/encoder.ts";
import { type BatchSync, MlpHead } from "../model/heads.ts";
import { UserError } from "../errors.ts";
import { type AllreduceStats, averageGradients } from "../dist/average_gradients.ts";
import { type Collective, sharedFailure, SOLO } from "../dist/world.ts";
import { AdamW } from "./adamw.ts";
import type { HeadWidths } from "./config.ts";
import { byolLoss, emaUpdate, normalizedSums, outputStd, stdFromSums } from "./loss.ts";
import { frameLoss, maskedTokens, rankTokenWeight, stepMask } from "./frame_loss.ts";

/** Per-step hyper-parameters and drop-path seeds. */
export interface StepParams {
  /** Learning rate of this step. */
  lr: number;
  /** Weight decay of this step (decayed group only). */
  wd: number;
  /** EMA momentum of the teacher update. */
  ema: number;
  /** Drop-path seed of the student forward. */
  seedStudent: number;
  /** Drop-path seed of the teacher forward. */
  seedTeacher: number;
  /** 1-based step number, for error messages. */
  step: number;
  /** This rank's rows of the step's batch (data-parallel runs only). */
  shard?: BatchShard;
  /** ATST-Frame: the token mask of each clip, [b, N] (1 = masked), shared by its two views. */
  tokenMask?: Uint8Array;
}

/** What one step reports. */
export interface StepStats {
  /** BYOL loss of the step, before the update. */
  loss: number;
  /** Std of the L2-normalised student predictions (a collapse monitor). */
  stdStudent: number;
  /** Std of the L2-normalised teacher projections. */
  stdTeacher: number;
  /** Gradient allreduce of the step: buffers, bytes and milliseconds (0 in one process). */
  allreduce: AllreduceStats;
}

/** One network: encoder, projector and (student only) predictor. */
interface Branch {
  encoder: Encoder;
  projector: MlpHead;
  predictor?: MlpHead;
}

let instances = 0;

function buildBranch(
  cfg: EncoderConfig,
  heads: HeadWidths,
  role: string,
  seed: number,
  sync?: BatchSync,
): Branch {
  const trainable = role.endsWith("student");
  const head = (name: string, inDim: number, s: number) =>
    new MlpHead({ inDim, hidden: heads.hidden, outDim: heads.out }, {
      name: `${role}/${name}`,
      seed: s,
      trainable,
      sync,
    });
  return {
    encoder: new Encoder(cfg, { name: `${role}/encoder`, seed, trainable }),
    projector: head("projector", cfg.dim, seed + 1),
    predictor: trainable ? head("predictor", heads.out, seed + 3) : undefined,
  };
}

function prefixed(branch: Branch, withBuffers: boolean): Map<string, Variable> {
  const out = new Map<string, Variable>();
  for (const [k, v] of branch.encoder.params()) out.set(`encoder/${k}`, v);
  for (
    const [name, head] of [["projector", branch.projector], [
      "predictor",
      branch.predictor,
    ]] as const
  ) {
    if (!head) continue;
    for (const [k, v] of head.params()) out.set(`${name}/${k}`, v);
    if (withBuffers) { for (const [k, v] of head.buffers()) out.set(`${name}/${k}`, v); }
  }
  return out;
}

/** The final-normed CLS token of every item: [B, D]. */
function cls(tokens: Tensor3D): Tensor2D {
  const [B, , D] = tokens.shape;
  return tf.reshape(tf.slice(tokens, [0, 0, 0], [B, 1, D]), [B, D]) as Tensor2D; // [B, D]
}

/** Student, teacher and the student's optimiser. */
export class TeacherStudent {
  /** The trained network. */
  readonly student: Branch;
  /** The EMA of the student, without a predictor; its encoder is the one saved. */
  readonly teacher: Branch;
  /** AdamW over the student's parameters. */
  readonly optimizer: AdamW;
  #studentParams: Map<string, Variable>;
  #teacherParams: Map<string, Variable>;
  #keyOf = new Map<string, string>();
  readonly #world: Collective;

  /**
   * `opts.world`: the ranks of a data-parallel run (default: this process
   * alone). With more than one, the heads' BatchNorm is synchronised over
   * them, gradients are averaged and the reported values are global.
   */
  constructor(
    cfg: EncoderConfig,
    heads: HeadWidths,
    seed: number,
    opts: { world?: Collective } = {},
  ) {
    this.#world = opts.world ?? SOLO;
    const sync = this.#world.size > 1 ? this.#world : undefined;
    // tfjs variable names are global: number the instances.
    const tag = instances++ === 0 ? "" : `${instances - 1}/`;
    this.student = buildBranch(cfg, heads, `${tag}student`, seed, sync);
    this.teacher = buildBranch(cfg, heads, `${tag}teacher`, seed + 100, sync);
    this.#studentParams = prefixed(this.student, false);
    this.#teacherParams = prefixed(this.teacher, false);
    for (const [k, v] of this.#studentParams) this.#keyOf.set(v.name, k);
    // The teacher starts as a copy of the student (running statistics too).
    const s = prefixed(this.student, true);
    for (const [k, v] of prefixed(this.teacher, true)) v.assign(s.get(k)!);
    this.optimizer = new AdamW(this.#studentParams, { name: `${tag}student/adamw` });
  }

  /** Student parameters keyed `encoder/…`, `projector/…`, `predictor/…`. */
  studentParams(): Map<string, Variable> {
    return this.#studentParams;
  }

  /**
   * Every tensor of the training state, keyed `student/…`, `teacher/…`
   * (parameters and BatchNorm running statistics) and `optim/m/…`,
   * `optim/v/…` (AdamW moments).
   */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, v] of prefixed(this.student, true)) out.set(`student/${k}`, v);
    for (const [k, v] of prefixed(this.teacher, true)) out.set(`teacher/${k}`, v);
    for (const [k, v] of this.optimizer.state()) out.set(`optim/${k}`, v);
    return out;
  }

  /** Restores what {@link stateTensors} saved; `optimizerStep` is AdamW's step count. */
  loadState(tensors: Map<string, Tensor>, optimizerStep: number): void {
    const targets = new Map<string, Variable>();
    for (const [k, v] of prefixed(this.student, true)) targets.set(`student/${k}`, v);
    for (const [k, v] of prefixed(this.teacher, true)) targets.set(`teacher/${k}`, v);
    const moments = new Map<string, Tensor>();
    for (const [key, v] of targets) {
      const t = tensors.get(key);
      if (!t) throw new Error(`Checkpoint lacks '${key}'`);
      if (t.shape.join() !== v.shape.join()) {
        throw new Error(`Checkpoint tensor '${key}' has shape [${t.shape}], expected [${v.shape}]`);
      }
      v.assign(t);
    }
    for (const [key, t] of tensors) if (key.startsWith("optim/")) moments.set(key.slice(6), t);
    this.optimizer.loadState(moments, optimizerStep);
  }

  /**
   * One optimisation step on `x` [2B, 64, T] (view 1 of every clip, then
   * view 2): teacher forward, student forward and backward, AdamW update,
   * BatchNorm running statistics, EMA of the teacher. A non-finite loss
   * throws a UserError naming the step before anything is updated. In a
   * data-parallel run `x` is this rank's share (`p.shard`), with view 1
   * and view 2 of the same clips. With `p.tokenMask` (ATST-Frame,
   * REFERENCE.md §8.6) the student sees `mask_embed` at the masked
   * tokens, both networks keep only those ([M, D] into the heads) and the
   * loss compares them across the views; over several ranks the loss is a
   * mean over the masked tokens of all ranks and the heads' BatchNorm
   * runs over all of them, as in one process on the whole batch.
   */
  async step(x: Tensor3D, lengths: number[], p: StepParams): Promise<StepStats> {
    const { teacher, student } = this;
    const shard = p.shard;
    // ATST-Frame: the student sees mask_embed at the masked tokens, the teacher the plain
    // tokens; both keep the masked tokens only ([M, D]), so the heads' BatchNorm runs over
    // them. ATST-Clip: the CLS token of every view ([2B, D]).
    const frame = p.tokenMask
      ? stepMask(
        p.tokenMask,
        Math.floor(x.shape[2] / student.encoder.cfg.patchFrames),
      )
      : null;
    const pool = (tokens: Tensor3D) => frame ? maskedTokens(tokens, frame.index) : cls(tokens);
    // Ranks hold different numbers of masked tokens: each rank's loss is weighted by its share
    // of them (ATST-Clip's shares are equal rows, so its per-rank means need no weight).
    const weight = frame ? rankTokenWeight(frame.index.size, this.#world) : 1;
    const tOut = tf.tidy(() => {
      const tokens = teacher.encoder.forward(x, lengths, {
        training: true,
        seed: p.seedTeacher,
        shard,
      }); // [2B, lead+N, D]
      return teacher.projector.forward(pool(tokens), { training: true }); // [2B or M, out]
    });
    let pred: Tensor2D | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const tokens = student.encoder.forward(x, lengths, {
        training: true,
        seed: p.seedStudent,
        shard,
        mask: frame?.mask,
      }); // [2B, lead+N, D]
      const z = student.projector.forward(pool(tokens), { training: true }); // [2B or M, out]
      pred = tf.keep(student.predictor!.forward(z, { training: true })); // [2B or M, out]
      return frame ? frameLoss(pred, tOut, weight) : byolLoss(pred, tOut);
    }, [...this.#studentParams.values()]);
    if (frame) tf.dispose([frame.mask, frame.index]);
    const stats = this.#world.size > 1
      ? await this.#globalStats(value, pred!, tOut)
      : await localStats(value, pred!, tOut);
    tf.dispose([value, tOut, pred!]);
    if (!Number.isFinite(stats.loss)) {
      tf.dispose(Object.values(grads));
      // The loss is global: every rank stops here.
      throw sharedFailure(
        this.#world,
        new UserError(
          `Loss is not finite (${stats.loss}) at step ${p.step}; stopping without saving this ` +
            `step (try a lower --lr)`,
        ),
      );
    }
    const named: Record<string, Tensor> = {};
    for (const [name, g] of Object.entries(grads)) named[this.#keyOf.get(name)!] = g;
    if (this.#world.size > 1) {
      const mean = averageGradients(named, this.#world);
      stats.allreduce = mean.stats;
      this.optimizer.update(mean.grads, p.lr, p.wd);
      tf.dispose(Object.values(mean.grads));
    } else {
      this.optimizer.update(named, p.lr, p.wd);
    }
    tf.dispose(Object.values(grads));
    student.projector.commitRunningStats();
    student.predictor!.commitRunningStats();
    teacher.projector.commitRunningStats();
    emaUpdate(this.#teacherParams, this.#studentParams, p.ema);
    return stats;
  }

  /** Loss and monitors over the rows of every rank: one allreduce of their sums. */
  async #globalStats(loss: Tensor, pred: Tensor2D, tOut: Tensor2D): Promise<StepStats> {
    const sums = [normalizedSums(pred), normalizedSums(tOut)]; // 2 x [2 out]
    const [l, s, t] = await Promise.all([loss, ...sums].map((x) => x.data()));
    tf.dispose(sums);
    const d = s!.length;
    const buf = new Float64Array(2 + 2 * d);
    buf[0] = l![0]!;
    buf[1] = pred.shape[0];
    buf.set(s!, 2);
    buf.set(t!, 2 + d);
    this.#world.allreduce(buf);
    const n = buf[1]!;
    return {
      // Equal shares (ATST-Clip) or losses weighted by masked tokens (ATST-Frame): the mean of
      // the ranks' losses is the loss of the joined batch.
      loss: Math.fround(buf[0]! / this.#world.size),
      stdStudent: Math.fround(stdFromSums(buf.subarray(2, 2 + d), n)),
      stdTeacher: Math.fround(stdFromSums(buf.subarray(2 + d), n)),
      allreduce: { calls: 0, bytes: 0, ms: 0 },
    };
  }

  /** Frees every variable of both networks and the optimiser. */
  dispose(): void {
    for (const b of [this.student, this.teacher]) {
      b.encoder.dispose();
      b.projector.dispose();
      b.predictor?.dispose();
    }
    this.optimizer.dispose();
  }
}

/** Loss and monitors of this process's batch (reads asynchronously: WebGPU needs it). */
async function localStats(loss: Tensor, pred: Tensor2D, tOut: Tensor2D): Promise<StepStats> {
  const stdS = outputStd(pred);
  const stdT = outputStd(tOut);
  const [l, s, t] = await Promise.all([loss, stdS, stdT].map((x) => x.data()));
  tf.dispose([stdS, stdT]);
  return {
    loss: l![0]!,
    stdStudent: s![0]!,
    stdTeacher: t![0]!,
    allreduce: { calls: 0, bytes: 0, ms: 0 },
  };
}
