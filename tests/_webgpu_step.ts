/**
 * One teacher-student pre-training step (spec §3) on a tiny model, built
 * from the library's own parts, for comparing backends: student encoder +
 * projector + predictor, teacher encoder + projector, BYOL loss, AdamW,
 * EMA, BatchNorm running statistics. Everything is seeded, so two calls on
 * two backends start from identical weights and inputs.
 */
import { tf } from "../lib/backend/tf.ts";
import { initWebGpu } from "../lib/backend/webgpu.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { Encoder } from "../lib/model/encoder.ts";
import { MlpHead } from "../lib/model/heads.ts";
import { byolLoss, emaUpdate } from "../lib/train/loss.ts";
import { AdamW } from "../lib/train/adamw.ts";

/** What one step produced, flattened in parameter-name order. */
export interface StepResult {
  loss: number;
  grads: Float32Array;
  /** Student weights after the step minus before it. */
  delta: Float32Array;
  /** Student and teacher weights after the step. */
  weights: Float32Array;
}

const CFG = encoderConfig("tiny", { dim: 32, depth: 2, heads: 2 });
const HEAD = { hidden: 64, outDim: 16 };
const B = 2, T = 30; // T not a multiple of 4: the encoder cuts the tail

/** Runs one seeded step on `backend` and frees everything it made. */
export async function pretrainStepOn(backend: "cpu" | "webgpu"): Promise<StepResult> {
  if (backend === "webgpu") await initWebGpu({ cpuForward: false });
  else await tf.setBackend("cpu");

  const enc = new Encoder(CFG, { seed: 11 });
  const proj = new MlpHead({ inDim: CFG.dim, ...HEAD }, { seed: 12 });
  const pred = new MlpHead({ inDim: HEAD.outDim, ...HEAD }, { seed: 13 });
  const encT = new Encoder(CFG, { seed: 11, trainable: false });
  const projT = new MlpHead({ inDim: CFG.dim, ...HEAD }, { seed: 12, trainable: false });
  const student = new Map<string, tf.Variable>();
  const teacher = new Map<string, tf.Variable>();
  for (const [k, v] of enc.params()) student.set(`encoder.${k}`, v);
  for (const [k, v] of proj.params()) student.set(`projector.${k}`, v);
  for (const [k, v] of pred.params()) student.set(`predictor.${k}`, v);
  for (const [k, v] of encT.params()) teacher.set(`encoder.${k}`, v);
  for (const [k, v] of projT.params()) teacher.set(`projector.${k}`, v);
  const names = [...student.keys()].sort();
  const before = await flat(names.map((n) => student.get(n)!));

  // Two views of B clips, stacked view after view: [2B, 64, T].
  const x = tf.randomNormal([2 * B, CFG.nMels, T], 0, 1, "float32", 5) as tf.Tensor3D;
  const lengths = [T, 21, 28, T];
  const cls = (e: Encoder) =>
    // [2B, D], the final-normed CLS token
    tf.reshape(
      tf.slice(e.forward(x, lengths, { training: true, seed: 3 }), [0, 0, 0], [2 * B, 1, CFG.dim]),
      [
        2 * B,
        CFG.dim,
      ],
    ) as tf.Tensor2D;
  const byVar = new Map([...student].map(([k, v]) => [v.name, k]));
  const { value, grads } = tf.variableGrads(() => {
    const p = pred.forward(proj.forward(cls(enc), { training: true }), { training: true });
    const z = projT.forward(cls(encT), { training: true });
    return byolLoss(p, z);
  }, [...student.values()]);
  const named: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) named[byVar.get(varName)!] = g;

  const opt = new AdamW(student);
  opt.update(named, 1e-3, 0.04);
  emaUpdate(teacher, student, 0.99);
  for (const h of [proj, pred, projT]) h.commitRunningStats();

  const loss = (await value.data())[0]!;
  // mask_embed is never used, so it has no gradient (and no update).
  const gradFlat = await flat(names.filter((n) => named[n]).map((n) => named[n]!));
  const after = await flat(names.map((n) => student.get(n)!));
  const weights = await flat([
    ...names.map((n) => student.get(n)!),
    ...[...teacher.keys()].sort().map((n) => teacher.get(n)!),
    ...[proj, pred, projT].flatMap((h) => [...h.buffers().values()]),
  ]);
  tf.dispose([value, x, ...Object.values(grads)]);
  for (const m of [enc, encT, proj, pred, projT, opt]) m.dispose();
  const delta = after.map((v, i) => v - before[i]!);
  return { loss, grads: gradFlat, delta, weights };
}

async function flat(ts: tf.Tensor[]): Promise<Float32Array> {
  const parts = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
