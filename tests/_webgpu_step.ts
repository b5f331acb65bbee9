/**
 * One teacher-student pre-training step (REFERENCE.md §3) of the trainer's own
 * {@link TeacherStudent} on a tiny model, for comparing backends. Weights,
 * inputs and drop-path draws are seeded, so two calls on two backends start
 * from identical states.
 */
import { tf } from "../lib/backend/tf.ts";
import { initWebGpu } from "../lib/backend/webgpu.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { TeacherStudent } from "../lib/train/teacher_student.ts";

/** What one step produced; arrays are flattened in state-name order. */
export interface StepResult {
  loss: number;
  stdStudent: number;
  stdTeacher: number;
  /** AdamW's first moments after step 1: 0.1 x the gradients. */
  moments: Float32Array;
  /** Student parameters after the step minus before it. */
  delta: Float32Array;
  /** Every state tensor after the step: student, teacher, BatchNorm statistics, moments. */
  state: Float32Array;
}

const CFG = encoderConfig("tiny", { dim: 32, depth: 2, heads: 2 });
const B = 2, T = 30; // T not a multiple of 4: the encoder cuts the tail

/** Runs one seeded step on `backend` and frees everything it made. */
export async function pretrainStepOn(backend: "cpu" | "webgpu"): Promise<StepResult> {
  if (backend === "webgpu") await initWebGpu({ cpuForward: false });
  else await tf.setBackend("cpu");
  const nets = new TeacherStudent(CFG, { hidden: 64, out: 16 }, 7);
  const params = nets.studentParams();
  const names = [...params.keys()].sort();
  const before = await flat(names.map((n) => params.get(n)!));
  const x = tf.randomNormal([2 * B, CFG.nMels, T], 0, 1, "float32", 5) as tf.Tensor3D; // [2B, 64, T]
  const stats = await nets.step(x, [T, 21, 28, T], {
    lr: 1e-3,
    wd: 0.04,
    ema: 0.99,
    seedStudent: 1,
    seedTeacher: 2,
    step: 1,
  });
  const after = await flat(names.map((n) => params.get(n)!));
  const state = nets.stateTensors();
  const keys = [...state.keys()].sort();
  const moments = await flat(
    keys.filter((k) => k.startsWith("optim/m/")).map((k) => state.get(k)!),
  );
  const all = await flat(keys.map((k) => state.get(k)!));
  x.dispose();
  nets.dispose();
  return { ...stats, moments, delta: after.map((v, i) => v - before[i]!), state: all };
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
