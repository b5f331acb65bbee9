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
import { MlpHead } from "../model/heads.ts";
import { UserError } from "../errors.ts";
import { AdamW } from "./adamw.ts";
import type { HeadWidths } from "./config.ts";
import { byolLoss, emaUpdate, outputStd } from "./loss.ts";

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
}

/** What one step reports. */
export interface StepStats {
  /** BYOL loss of the step, before the update. */
  loss: number;
  /** Std of the L2-normalised student predictions (a collapse monitor). */
  stdStudent: number;
  /** Std of the L2-normalised teacher projections. */
  stdTeacher: number;
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
): Branch {
  const trainable = role.endsWith("student");
  const head = (name: string, inDim: number, s: number) =>
    new MlpHead({ inDim, hidden: heads.hidden, outDim: heads.out }, {
      name: `${role}/${name}`,
      seed: s,
      trainable,
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

  constructor(cfg: EncoderConfig, heads: HeadWidths, seed: number) {
    // tfjs variable names are global: number the instances.
    const tag = instances++ === 0 ? "" : `${instances - 1}/`;
    this.student = buildBranch(cfg, heads, `${tag}student`, seed);
    this.teacher = buildBranch(cfg, heads, `${tag}teacher`, seed + 100);
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
   * throws a UserError naming the step before anything is updated.
   */
  async step(x: Tensor3D, lengths: number[], p: StepParams): Promise<StepStats> {
    const { teacher, student } = this;
    const tOut = tf.tidy(() => {
      const tokens = teacher.encoder.forward(x, lengths, { training: true, seed: p.seedTeacher }); // [2B, 1+N, D]
      return teacher.projector.forward(cls(tokens), { training: true }); // [2B, out]
    });
    let pred: Tensor2D | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const tokens = student.encoder.forward(x, lengths, { training: true, seed: p.seedStudent }); // [2B, 1+N, D]
      const z = student.projector.forward(cls(tokens), { training: true }); // [2B, out]
      pred = tf.keep(student.predictor!.forward(z, { training: true })); // [2B, out]
      return byolLoss(pred, tOut);
    }, [...this.#studentParams.values()]);
    const stdS = outputStd(pred!);
    const stdT = outputStd(tOut);
    // Asynchronous reads: WebGPU in Deno cannot read GPU buffers synchronously.
    const [loss, stdStudent, stdTeacher] = await Promise.all(
      [value, stdS, stdT].map((t) => t.data()),
    );
    const stats: StepStats = {
      loss: loss![0]!,
      stdStudent: stdStudent![0]!,
      stdTeacher: stdTeacher![0]!,
    };
    tf.dispose([value, stdS, stdT, tOut, pred!]);
    if (!Number.isFinite(stats.loss)) {
      tf.dispose(Object.values(grads));
      throw new UserError(
        `Loss is not finite (${stats.loss}) at step ${p.step}; stopping without saving this step ` +
          `(try a lower --lr)`,
      );
    }
    const named: Record<string, Tensor> = {};
    for (const [name, g] of Object.entries(grads)) named[this.#keyOf.get(name)!] = g;
    this.optimizer.update(named, p.lr, p.wd);
    tf.dispose(Object.values(grads));
    student.projector.commitRunningStats();
    student.predictor!.commitRunningStats();
    teacher.projector.commitRunningStats();
    emaUpdate(this.#teacherParams, this.#studentParams, p.ema);
    return stats;
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
