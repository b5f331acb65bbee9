import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { defaultTrainConfig, recipeDiff, type TrainConfig } from "../lib/train/config.ts";
import { PretrainSession } from "../lib/train/pretrain.ts";
import { cropFrames, memoryClips } from "../lib/train/views.ts";
import { drawFrameViews } from "../lib/train/frame_views.ts";
import { MixupMemory, renderView } from "../lib/train/views.ts";
import { Rng } from "../lib/rng.ts";
import { writeOrCheckConfig } from "../lib/train/run_config.ts";
import { fakeMel, sessionWeights } from "./_train_golden.ts";

const CLIPS = [220, 330, 550, 880].map((hz, i) =>
  Float32Array.from(
    { length: 9000 + 1500 * i },
    (_, n) => 0.5 * Math.sin((2 * Math.PI * hz * n) / 16000),
  )
);

/** A tiny ATST-Frame run: 0.5 s crops (51 frames, 12 tokens), 2 blocks of 64. */
function config(over: Partial<TrainConfig> = {}): TrainConfig {
  const d = defaultTrainConfig({ family: "frame" });
  return {
    ...d,
    encoder: encoderConfig("tiny", { family: "frame", dim: 64, heads: 2, depth: 2 }),
    heads: { hidden: 64, out: 32 },
    steps: 6,
    batch: 3,
    lr: 1e-3,
    warmup: 1,
    cropSeconds: 0.5,
    mixupMemory: 4,
    seed: 5,
    saveEvery: 2,
    keep: 2,
    ...over,
  };
}

Deno.test("the frame family's defaults are the ATST-Frame recipe where it differs; ATST-Clip's are unchanged", () => {
  const clip = defaultTrainConfig({ batch: 256 });
  const frame = defaultTrainConfig({ batch: 256, steps: 58500, family: "frame" });
  assert.equal(frame.encoder.family, "frame");
  assert.equal(frame.lr, 4e-4);
  assert.deepEqual(frame.ema, [0.997, 1.0]);
  assert.equal(frame.cropSeconds, 10.0);
  assert.equal(frame.warmup, 1950);
  assert.deepEqual(frame.mask, { ratio: 0.65, span: 5, minSpans: 2 });
  assert.deepEqual([frame.wd, frame.minLr, frame.heads], [clip.wd, clip.minLr, clip.heads]);
  // ATST-Clip's config.json: the same keys in the same order as before families.
  assert.deepEqual(Object.keys(clip), [
    "encoder",
    "heads",
    "data",
    "steps",
    "batch",
    "lr",
    "minLr",
    "warmup",
    "wd",
    "ema",
    "cropSeconds",
    "mixupMemory",
    "seed",
    "saveEvery",
    "keep",
  ]); // deno-fmt-ignore
  assert.equal(clip.lr, 5e-4);
  assert.deepEqual(recipeDiff(clip, frame).slice(0, 1), ["encoder"]);
  assert.ok(recipeDiff(clip, frame).includes("mask"));
});

Deno.test("the two frame views are one crop: the plain log-mel and a frequency-only resize of its mix", () => {
  const ctx = { clips: memoryClips(CLIPS), cropLength: 8000, nMels: 64, featurize: fakeMel };
  const memory = new MixupMemory({ capacity: 4 });
  const rng = new Rng(3);
  drawFrameViews(ctx, 0, memory, rng); // gives the memory a partner
  const [v1, v2] = drawFrameViews(ctx, 2, memory, rng);
  assert.deepEqual(v1.crop, v2.crop, "one crop");
  assert.ok(v2.partner, "view 2 is mixed");
  assert.equal(v2.box!.j, 0);
  assert.equal(v2.box!.w, cropFrames(8000), "time untouched");
  assert.ok(v2.box!.i + v2.box!.h <= 64 && v2.box!.h >= 38, JSON.stringify(v2.box));
  const plain = fakeMel(ctx.clips.read(2, v1.crop.offset, 8000));
  assert.deepEqual(renderView(ctx, v1), plain, "view 1 is the plain log-mel");
  assert.notDeepEqual(renderView(ctx, v2), plain);
  assert.equal(memory.entries.length, 2, "only view 2 remembers crops");
});

Deno.test("frame steps keep the tensor count flat and log finite losses and frame std monitors", async () => {
  await enableGradients();
  const tr = new PretrainSession(config(), memoryClips(CLIPS), { featurize: fakeMel });
  await tr.trainStep(); // creates the AdamW moments
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const line = await tr.trainStep();
    for (const [k, v] of Object.entries(line)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
    assert.ok(line.loss > 0 && line.loss < 4, `loss ${line.loss}`);
    assert.ok(line.std_student > 0.01 && line.std_teacher > 0.01, JSON.stringify(line));
  }
  assert.equal(tf.memory().numTensors, before, "tensors after 2 more steps");
  assert.equal(tr.memories[0].entries.length, 0, "view 1 has no mixup memory");
  const me = tr.nets.studentParams().get("encoder/mask_embed")!;
  assert.ok(me, "mask_embed is trained");
  tr.dispose();
});

Deno.test("a frame session restored from a checkpoint ends with the same weights as one that never stopped", async () => {
  await enableGradients();
  const dir = await Deno.makeTempDir({ prefix: "atst_frame_" });
  try {
    const whole = new PretrainSession(config(), memoryClips(CLIPS), { featurize: fakeMel });
    for (let i = 0; i < 4; i++) await whole.trainStep();
    const a = sessionWeights(whole);
    whole.dispose();
    const first = new PretrainSession(config(), memoryClips(CLIPS), { featurize: fakeMel });
    await first.trainStep();
    await first.trainStep();
    const path = await first.save(dir);
    first.dispose();
    const second = new PretrainSession(config(), memoryClips(CLIPS), { featurize: fakeMel });
    await second.restore(path);
    assert.equal(second.memories[1].entries.length, 4, "view 2's mixup memory restored");
    await second.trainStep();
    await second.trainStep();
    const b = sessionWeights(second);
    second.dispose();
    for (const [k, v] of a) assert.deepEqual(b.get(k), v, `tensor ${k}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a frame step with a non-finite loss stops naming the step", async () => {
  await enableGradients();
  const tr = new PretrainSession(config(), memoryClips(CLIPS), { featurize: fakeMel });
  await tr.trainStep();
  const p = tr.nets.studentParams().get("encoder/mask_embed")!;
  p.assign(tf.fill(p.shape, NaN));
  await assert.rejects(() => tr.trainStep(), /Loss is not finite \(NaN\) at step 2/);
  assert.equal(tr.step, 1);
  tr.dispose();
});

Deno.test("a run directory made before families existed resumes as ATST-Clip", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_old_run_" });
  try {
    const clip = defaultTrainConfig();
    const { family: _, ...oldEncoder } = clip.encoder;
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...clip, encoder: oldEncoder }, null, 2),
    );
    await writeOrCheckConfig(dir, clip);
    await assert.rejects(
      () => writeOrCheckConfig(dir, defaultTrainConfig({ family: "frame" })),
      /other settings \(encoder, lr, ema, cropSeconds, mask\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
