/**
 * Shared bits of the training tests: the reader for fixtures/train/golden.json
 * (written by tools/gen_train_fixtures.py), PyTorch-layout conversion, the
 * golden step's nets, and the stand-ins the trainer tests share.
 *
 * @module
 */
import { fixture } from "./_helpers.ts";
import { tf } from "../lib/backend/tf.ts";
import { isLinearWeight } from "../lib/model/encoder.ts";
import { torchLayout } from "../lib/model/heads.ts";
import { encoderConfig } from "../lib/model/config.ts";
import type { PretrainSession } from "../lib/train/pretrain.ts";
import { TeacherStudent } from "../lib/train/teacher_student.ts";
import { cropFrames } from "../lib/train/views.ts";

export { assertNoTensorLeak, fixture, maxAbsDiff, relErr, ROOT } from "./_helpers.ts";

/** An array as the generator stores it. */
export interface Arr {
  shape: number[];
  data: number[];
}

// deno-lint-ignore no-explicit-any
export const GOLDEN: any = JSON.parse(Deno.readTextFileSync(fixture("train", "golden.json")));

/** A float32 tensor from a stored array. */
export function tensorOf(a: Arr): tf.Tensor {
  return tf.tensor(a.data, a.shape, "float32");
}

/**
 * A stored PyTorch tensor in our layout: Linear weights of the encoder and
 * the heads are held [in, out] here, [out, in] in PyTorch. `key` is
 * `encoder/<name>`, `projector/<name>`, `predictor/<name>` or a bare head name.
 */
export function tensorOurs(key: string, a: Arr): tf.Tensor {
  const t = tensorOf(a);
  if (!isTorchTransposed(key)) return t;
  const out = tf.transpose(t);
  t.dispose();
  return out;
}

/** Whether `key` (see {@link tensorOurs}) is held transposed relative to PyTorch. */
export function isTorchTransposed(key: string): boolean {
  const slash = key.indexOf("/");
  const name = key.slice(slash + 1);
  return key.startsWith("encoder/") ? isLinearWeight(name) : torchLayout(name);
}

/**
 * Nets of a golden step: the fixture's miniature encoder (depth 1, no drop
 * path) and heads, at the fixture's initial weights (`g.init`, student and
 * teacher; the teacher has no predictor). `family` picks ATST-Clip or -Frame.
 */
export function goldenStepNets(
  // deno-lint-ignore no-explicit-any
  g: any,
  family: "clip" | "frame" = "clip",
): TeacherStudent {
  const cfg = encoderConfig("tiny", {
    ...(family === "frame" ? { family } : {}),
    dim: g.dim,
    heads: g.heads,
    depth: 1,
    maxPatches: g.maxPatches,
    dropPathRate: 0,
  });
  const nets = new TeacherStudent(cfg, { hidden: g.hidden, out: g.out }, 1);
  const state = nets.stateTensors();
  for (const [k, a] of Object.entries(g.init as Record<string, Arr>)) {
    for (const role of ["student", "teacher"]) {
      const v = state.get(`${role}/${k}`) as tf.Variable | undefined;
      if (v) {
        const t = tensorOurs(k, a);
        v.assign(t);
        t.dispose();
      } else if (!(role === "teacher" && k.startsWith("predictor/"))) {
        throw new Error(`Golden init ${k} has no ${role} tensor`);
      }
    }
  }
  return nets;
}

/**
 * A cheap stand-in for logMel, so trainer tests exercise the trainer alone:
 * 64 "bands" of frame-wise signal statistics, in [-1, 1].
 */
export function fakeMel(crop: Float32Array): Float32Array {
  const t = cropFrames(crop.length);
  const out = new Float32Array(64 * t);
  for (let k = 0; k < t; k++) {
    const s = crop[Math.min(k * 160, crop.length - 1)]!;
    for (let f = 0; f < 64; f++) out[f * t + k] = Math.tanh(s * (f + 1) / 8);
  }
  return out;
}

/** Every state tensor of a session (networks and optimiser), read out by name. */
export function sessionWeights(tr: PretrainSession): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of tr.nets.stateTensors()) out.set(k, v.dataSync() as Float32Array);
  return out;
}
