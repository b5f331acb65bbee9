import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { SOLO } from "../lib/dist/world.ts";
import { frameLoss, maskedTokens, rankTokenWeight, stepMask } from "../lib/train/frame_loss.ts";
import {
  type Arr,
  fixture,
  goldenStepNets,
  isTorchTransposed,
  maxAbsDiff,
  relErr,
  tensorOf,
} from "./_train_golden.ts";

// Written by tools/gen_frame_train_fixtures.py (tools/atst_torch.py: frame_forward, frame_train_step).
// deno-lint-ignore no-explicit-any
const G: any = JSON.parse(Deno.readTextFileSync(fixture("train", "frame_golden.json"))).step;

const MASKS = Uint8Array.from((G.masks as number[][]).flat()); // [B, N]

/** Ours in PyTorch's layout, as a plain array. */
function torchData(key: string, t: tf.Tensor): Float32Array {
  const ours = isTorchTransposed(key) ? tf.transpose(t) : tf.clone(t);
  const got = ours.dataSync() as Float32Array;
  ours.dispose();
  return got;
}

Deno.test("a given mask reproduces PyTorch's ATST-Frame loss and every student gradient", async () => {
  await enableGradients();
  const nets = goldenStepNets(G, "frame");
  const x = tensorOf(G.x) as tf.Tensor3D;
  const lengths = new Array(x.shape[0]).fill(x.shape[2]);
  const m = stepMask(MASKS, x.shape[2] / 4);
  assert.equal(m.index.shape[0], G.masked, "masked tokens of both views");
  const { student, teacher } = nets;
  const before = tf.memory().numTensors;
  const tOut = tf.tidy(() =>
    teacher.projector.forward(maskedTokens(teacher.encoder.forward(x, lengths), m.index), {
      training: true,
    })
  );
  const params = nets.studentParams();
  const { value, grads } = tf.variableGrads(() => {
    const tokens = student.encoder.forward(x, lengths, { training: true, mask: m.mask });
    const z = student.projector.forward(maskedTokens(tokens, m.index), { training: true });
    return frameLoss(student.predictor!.forward(z, { training: true }), tOut);
  }, [...params.values()]);
  const loss = (await value.data())[0]!;
  assert.ok(Math.abs(loss - G.loss) < 1e-5, `loss ${loss} vs ${G.loss}`);
  const byName = new Map([...params].map(([k, v]) => [v.name, k]));
  const seen = new Set<string>();
  let worst = 0;
  for (const [name, g] of Object.entries(grads)) {
    const key = byName.get(name)!;
    const want = G.grads[key] as Arr;
    assert.ok(want, `no reference gradient for ${key}`);
    seen.add(key);
    const got = torchData(key, g);
    const scale = Math.max(...want.data.map(Math.abs));
    // Gradients that are analytically zero (norm_frame's bias: BatchNorm removes shifts
    // common to all rows) are rounding noise in both; the rest agree to float precision.
    if (scale > 1e-5) {
      worst = Math.max(worst, relErr(got, want.data));
      assert.ok(relErr(got, want.data) < 2e-4, `${key}: ${relErr(got, want.data)}`);
    } else {
      assert.ok(Math.max(...got.map(Math.abs)) < 1e-5, `${key}: ${maxAbsDiff(got, want.data)}`);
    }
  }
  console.error(`frame gradients: worst relative error ${worst.toExponential(2)}`);
  assert.deepEqual([...seen].sort(), Object.keys(G.grads).sort(), "mask_embed included");
  assert.ok(
    Math.max(...(G.grads["encoder/mask_embed"] as Arr).data.map(Math.abs)) > 1e-4,
    "mask_embed learns",
  );
  tf.dispose([value, tOut, ...Object.values(grads)]);
  student.projector.commitRunningStats();
  student.predictor!.commitRunningStats();
  teacher.projector.commitRunningStats();
  assert.equal(tf.memory().numTensors, before, "tensors after the forward and backward");
  tf.dispose([m.mask, m.index, x]);
  nets.dispose();
});

Deno.test("one ATST-Frame teacher-student step matches PyTorch (loss, AdamW, BN over masked tokens, EMA)", async () => {
  await enableGradients();
  const nets = goldenStepNets(G, "frame");
  const x = tensorOf(G.x) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const stats = await nets.step(x, new Array(x.shape[0]).fill(x.shape[2]), {
    lr: G.lr,
    wd: G.wd,
    ema: G.ema,
    seedStudent: 1,
    seedTeacher: 2,
    step: 1,
    tokenMask: MASKS,
  });
  assert.ok(tf.memory().numTensors - before <= 2 * nets.studentParams().size, "moments only");
  assert.ok(Math.abs(stats.loss - G.loss) < 1e-5, `loss ${stats.loss} vs ${G.loss}`);
  assert.ok(Math.abs(stats.stdStudent - G.std_student) < 1e-5, "std_frm_stu");
  assert.ok(Math.abs(stats.stdTeacher - G.std_teacher) < 1e-5, "std_frm_tea");
  const after = nets.stateTensors();
  let worst = 0, worstUpdate = 0;
  for (const role of ["student", "teacher"] as const) {
    for (const [k, a] of Object.entries(G[role] as Record<string, Arr>)) {
      const got = torchData(k, after.get(`${role}/${k}`)!);
      // A gradient that is analytically zero (norm_frame's bias: the projector's BatchNorm
      // removes any shift common to the masked tokens) is rounding noise, which Adam's first
      // step divides by eps in both implementations: nothing to compare.
      const g = G.grads[k] as Arr | undefined;
      if (g && Math.max(...g.data.map(Math.abs)) < 1e-5) continue;
      worst = Math.max(worst, maxAbsDiff(got, a.data));
      // As the clip step test: one Adam step moves a weight by about lr (1e-2), and a few
      // elements with gradients near eps amplify float differences to ~1 % of that.
      assert.ok(maxAbsDiff(got, a.data) < 2e-4, `${role}/${k}: ${maxAbsDiff(got, a.data)}`);
      const init = G.init[k].data as number[];
      const dRef = a.data.map((v, i) => v - init[i]!);
      const dOurs = Array.from(got, (v, i) => v - init[i]!);
      const scale = role === "teacher" ? 1 - G.ema : 1;
      if (dRef.reduce((acc, v) => acc + Math.abs(v), 0) / dRef.length > 0.1 * G.lr * scale) {
        worstUpdate = Math.max(worstUpdate, relErr(dOurs, dRef));
        assert.ok(relErr(dOurs, dRef) < 2e-3, `${role}/${k} update: ${relErr(dOurs, dRef)}`);
      }
    }
  }
  console.error(
    `frame step: worst |ours - torch| ${worst.toExponential(2)}, ` +
      `worst relative error of an update ${worstUpdate.toExponential(2)}`,
  );
  x.dispose();
  nets.dispose();
});

Deno.test("two ranks' frame losses weighted by their masked tokens average to the joined loss and gradient", () => {
  // 7 masked tokens per view: rank 0 holds 2 of each view's, rank 1 the other 5.
  const m = 7, d = 6, first = 2;
  const student = tf.randomNormal([2 * m, d], 0, 1, "float32", 1) as tf.Tensor2D; // [2m, d]
  const teacher = tf.randomNormal([2 * m, d], 0, 1, "float32", 2) as tf.Tensor2D; // [2m, d]
  const rows = (t: tf.Tensor2D, a: number, n: number) =>
    tf.tidy(() =>
      tf.concat([tf.slice(t, [a, 0], [n, d]), tf.slice(t, [m + a, 0], [n, d])])
    ) as tf.Tensor2D; // [2n, d]
  /** Rows a..a+n of each view and their weight (the other rank's count added as MPI would). */
  const share = (a: number, n: number) => {
    const world = {
      ...SOLO,
      size: 2,
      allreduce: (b: Float64Array) => void (b[0]! += 2 * m - 2 * n),
    };
    return { s: rows(student, a, n), t: rows(teacher, a, n), w: rankTokenWeight(2 * n, world) };
  };
  const before = tf.memory().numTensors;
  const ranks = [share(0, first), share(first, m - first)];
  assert.equal(rankTokenWeight(2 * m, SOLO), 1, "one process: no weight");
  const joined = (s: tf.Tensor2D) => frameLoss(s, teacher);
  const whole = tf.tidy(() => joined(student).dataSync()[0]!);
  const gradWhole = tf.grad((s) => joined(s as tf.Tensor2D))(student); // [2m, d]
  const losses = ranks.map((r) => tf.tidy(() => frameLoss(r.s, r.t, r.w).dataSync()[0]!));
  assert.ok(Math.abs((losses[0]! + losses[1]!) / 2 - whole) < 1e-6, `${losses} vs ${whole}`);
  assert.ok(Math.abs(losses[0]! - losses[1]!) > 1e-3, "the ranks' losses differ");
  // The gradient averageGradients forms (the mean over ranks) is the joined loss's.
  const grads = ranks.map((r) => tf.grad((s) => frameLoss(s as tf.Tensor2D, r.t, r.w))(r.s));
  const mean = tf.tidy(() =>
    tf.div(
      tf.concat([
        tf.slice(grads[0]!, [0, 0], [first, d]),
        tf.slice(grads[1]!, [0, 0], [m - first, d]),
        tf.slice(grads[0]!, [first, 0], [first, d]),
        tf.slice(grads[1]!, [m - first, 0], [m - first, d]),
      ]),
      2,
    )
  ); // [2m, d], rows in the joined order
  const err = maxAbsDiff(mean.dataSync() as Float32Array, gradWhole.dataSync() as Float32Array);
  assert.ok(err < 1e-7, `gradient differs by ${err}`);
  tf.dispose([gradWhole, mean, ...grads, ...ranks.flatMap((r) => [r.s, r.t])]);
  assert.equal(tf.memory().numTensors, before, "tensors after the two ranks' losses");
  tf.dispose([student, teacher]);
});
