import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { defaultTrainConfig, recipeDiff, type TrainConfig } from "../lib/train/config.ts";
import { pretrain, PretrainSession } from "../lib/train/pretrain.ts";
import {
  type Arr,
  fakeMel,
  fixture,
  GOLDEN,
  goldenStepNets,
  isTorchTransposed,
  maxAbsDiff,
  relErr,
  sessionWeights,
  tensorOf,
} from "./_train_golden.ts";
import { memoryClips } from "../lib/train/views.ts";

function clips(): Float32Array[] {
  return [220, 330, 550, 880, 1200].map((hz, i) =>
    Float32Array.from(
      { length: 9000 + 1000 * i },
      (_, n) => 0.5 * Math.sin((2 * Math.PI * hz * n) / 16000),
    )
  );
}

function config(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultTrainConfig(),
    encoder: encoderConfig("tiny", { dim: 64, heads: 2, depth: 2 }),
    heads: { hidden: 64, out: 32 },
    steps: 6,
    batch: 3,
    lr: 1e-3,
    warmup: 1,
    cropSeconds: 0.3,
    mixupMemory: 5,
    seed: 3,
    saveEvery: 2,
    keep: 2,
    ...over,
  };
}

Deno.test("the default recipe follows REFERENCE.md §3 and derives lr and warm-up from batch and steps", () => {
  const d = defaultTrainConfig();
  assert.equal(d.encoder.size, "small");
  assert.deepEqual(d.heads, { hidden: 4096, out: 256 });
  assert.deepEqual([d.minLr, d.wd, d.ema, d.cropSeconds, d.mixupMemory], [
    1e-6,
    [0.04, 0.4],
    [0.99, 1.0],
    6.0,
    2000,
  ]);
  assert.equal(defaultTrainConfig({ batch: 1536 }).lr, 5e-4 * 1536 / 256);
  assert.equal(defaultTrainConfig({ steps: 500 }).warmup, 50);
  assert.equal(defaultTrainConfig({ steps: 39000 }).warmup, 1300);
});

Deno.test("a resumed run may change only saveEvery and keep", () => {
  const a = config();
  assert.deepEqual(recipeDiff(a, { ...a, saveEvery: 7, keep: 9 }), []);
  assert.deepEqual(recipeDiff(a, { ...a, ema: [0.95, 1], mixupMemory: 8, wd: [0, 0] }), [
    "wd",
    "ema",
    "mixupMemory",
  ]);
  assert.deepEqual(recipeDiff(a, { ...a, minLr: 0, heads: { out: 32, hidden: 64 } }), ["minLr"]);
  assert.deepEqual(recipeDiff(a, { ...a, encoder: { ...a.encoder, depth: 1 } }), ["encoder"]);
});

Deno.test("trainer steps keep the tensor count flat and log finite numbers", async () => {
  await enableGradients();
  const tr = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
  await tr.trainStep(); // creates the AdamW moments
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const line = await tr.trainStep();
    for (const [k, v] of Object.entries(line)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
    assert.equal(line.step, i + 2);
  }
  assert.equal(tf.memory().numTensors, before, "tensors after 3 more steps");
  tr.dispose();
});

Deno.test("the teacher starts as the student and then follows it by EMA only", async () => {
  await enableGradients();
  const tr = new PretrainSession(config({ warmup: 0 }), memoryClips(clips()), {
    featurize: fakeMel,
  });
  const s0 = sessionWeights(tr);
  const w = "encoder/blocks.0.attn.qkv.weight";
  assert.deepEqual(s0.get(`student/${w}`), s0.get(`teacher/${w}`));
  await tr.trainStep();
  const s1 = sessionWeights(tr);
  const m = 0.99; // ema schedule at step 0
  const want = s0.get(`teacher/${w}`)!.map((t, i) => m * t + (1 - m) * s1.get(`student/${w}`)![i]!);
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(want[i]! - s1.get(`teacher/${w}`)![i]!));
  }
  assert.ok(maxDiff < 1e-7, `EMA teacher: ${maxDiff}`);
  assert.notDeepEqual(s1.get(`student/${w}`), s0.get(`student/${w}`), "student moved");
  tr.dispose();
});

Deno.test("a trainer restored from a checkpoint ends with the same weights as one that never stopped", async () => {
  await enableGradients();
  const dir = await Deno.makeTempDir({ prefix: "atst_trainer_" });
  try {
    const whole = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
    for (let i = 0; i < 4; i++) await whole.trainStep();
    const a = sessionWeights(whole);
    whole.dispose();

    const first = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
    await first.trainStep();
    await first.trainStep();
    const path = await first.save(dir);
    first.dispose();
    const second = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
    await second.restore(path);
    assert.equal(second.step, 2);
    assert.equal(second.memories[0].entries.length, 5, "mixup memory restored");
    await second.trainStep();
    await second.trainStep();
    const b = sessionWeights(second);
    second.dispose();
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, v] of a) assert.deepEqual(b.get(k), v, `tensor ${k}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a non-finite loss stops with an error naming the step and leaves the weights alone", async () => {
  await enableGradients();
  const tr = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
  await tr.trainStep();
  const p = tr.nets.studentParams().get("projector/3.weight")!;
  p.assign(tf.fill(p.shape, NaN));
  const teacherBefore = sessionWeights(tr).get("teacher/encoder/norm.weight");
  await assert.rejects(() => tr.trainStep(), /Loss is not finite \(NaN\) at step 2/);
  assert.equal(tr.step, 1);
  assert.deepEqual(sessionWeights(tr).get("teacher/encoder/norm.weight"), teacherBefore);
  tr.dispose();
});

Deno.test("a tiny model on the fixture recordings learns: loss falls and std does not collapse", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_learn_" });
  try {
    const steps = 40;
    const lines = await pretrain(dir, {
      ...config({
        steps,
        batch: 4,
        lr: 2e-3,
        warmup: 3,
        cropSeconds: 0.5,
        mixupMemory: 64,
        saveEvery: 1000,
        keep: 1,
      }),
      data: [
        "long_13s.flac",
        "stereo_44k.wav",
        "mono_8k.wav",
        "codecs/vorbis.ogg",
        "codecs/mp3.mp3",
      ]
        .map((f) => fixture("audio", f)),
    }, { progress: false });
    assert.equal(lines.length, steps);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(lines.slice(0, 5).map((l) => l.loss));
    const last = mean(lines.slice(-5).map((l) => l.loss));
    // Collapse drives the std of L2-normalised outputs to ~0.001; healthy is O(1/sqrt(32)).
    const std = mean(lines.slice(-5).map((l) => l.std_student));
    console.error(`loss ${first.toFixed(3)} -> ${last.toFixed(3)}, std_student ${std.toFixed(3)}`);
    assert.ok(last < 0.7 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
    assert.ok(std > 0.02, `std_student ${std}`);
    assert.ok(lines.at(-1)!.std_teacher > 0.02, `std_teacher ${lines.at(-1)!.std_teacher}`);
    // The teacher encoder is saved for `atst embed`, with the crop length that sets its chunking.
    const { encoder, meta } = await loadEncoder(`${dir}/encoder.safetensors`);
    assert.equal(meta.trainCropSeconds, 0.5);
    assert.equal(meta.encoder.dim, 64);
    // patch embed (2) + cls, pos, mask (3) + 11 per block + final norm (2).
    assert.equal(encoder.params().size, 2 + 3 + 2 * 11 + 2);
    encoder.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint is never written with non-finite weights", async () => {
  await enableGradients();
  const dir = await Deno.makeTempDir({ prefix: "atst_nan_" });
  try {
    const tr = new PretrainSession(config(), memoryClips(clips()), { featurize: fakeMel });
    await tr.trainStep();
    const v = tr.nets.studentParams().get("encoder/norm.bias")!;
    v.assign(tf.fill(v.shape, Infinity));
    await assert.rejects(
      () => tr.save(dir),
      /'student\/encoder\/norm.bias' is not finite at step 1/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
    tr.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one teacher-student step matches the PyTorch reference (loss, AdamW, BN stats, EMA)", async () => {
  await enableGradients();
  const g = GOLDEN.step;
  const nets = goldenStepNets(g);
  const x = tensorOf(g.x) as tf.Tensor3D;
  const stats = await nets.step(x, new Array(x.shape[0]).fill(x.shape[2]), {
    lr: g.lr,
    wd: g.wd,
    ema: g.ema,
    seedStudent: 1,
    seedTeacher: 2,
    step: 1,
  });
  assert.ok(Math.abs(stats.loss - g.loss) < 1e-5, `loss ${stats.loss} vs ${g.loss}`);
  assert.ok(Math.abs(stats.stdStudent - g.std_student) < 1e-5, "std_student");
  assert.ok(Math.abs(stats.stdTeacher - g.std_teacher) < 1e-5, "std_teacher");
  const after = nets.stateTensors();
  for (const role of ["student", "teacher"] as const) {
    for (const [k, a] of Object.entries(g[role] as Record<string, Arr>)) {
      const t = after.get(`${role}/${k}`)!;
      const ours = isTorchTransposed(k) ? tf.transpose(t) : tf.clone(t);
      const got = ours.dataSync();
      ours.dispose();
      // One Adam step moves a weight by about lr; 1e-5 is 0.1 % of that.
      // Adam's first step is lr * g / (|g| + eps): elements whose gradient is near eps
      // amplify float differences in g, so single elements may differ by up to ~1 % of lr
      // while the update as a whole agrees to ~1e-4.
      assert.ok(maxAbsDiff(got, a.data) < 1e-4, `${role}/${k}: ${maxAbsDiff(got, a.data)}`);
      const init = g.init[k].data as number[];
      const dRef = a.data.map((v, i) => v - init[i]!);
      const dOurs = Array.from(got, (v, i) => v - init[i]!);
      // Skip tensors whose gradient is analytically zero (e.g. the final norm's bias:
      // the projector's BatchNorm removes any shift common to the batch): their
      // updates are rounding noise divided by eps in both implementations.
      const scale = role === "teacher" ? 1 - g.ema : 1; // the teacher moves (1 - m) as far
      if (dRef.reduce((acc, v) => acc + Math.abs(v), 0) / dRef.length > 0.1 * g.lr * scale) {
        assert.ok(relErr(dOurs, dRef) < 2e-3, `${role}/${k} update: ${relErr(dOurs, dRef)}`);
      }
    }
  }
  x.dispose();
  nets.dispose();
});
