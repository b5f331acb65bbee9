import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { Encoder } from "../lib/model/encoder.ts";
import { encoderTensors, loadEncoder } from "../lib/model/checkpoint.ts";
import { importTorchCheckpoint } from "../lib/model/torch_import.ts";
import {
  frameChunks,
  memorySource,
  sceneEmbedding,
  timestampEmbedding,
} from "../lib/embed/frame_pooling.ts";
import {
  assertAtMost,
  assertNoTensorLeak,
  fixture,
  maxAbsDiff,
  readFixtureNpy,
  relErr,
} from "./_helpers.ts";
import { signal } from "./_model_inputs.ts";
import { type FrameRefs, frameRefs } from "./_frame_inputs.ts";

const FA = fixture("frame", "fa.ckpt");
const refs: FrameRefs = frameRefs();

/** The padded batch of refs.batch as [3, 64, 131] with zero padding. */
function paddedBatch(): { x: tf.Tensor3D; lengths: number[] } {
  const { lengths, seeds, width } = refs.batch;
  const x = new Float32Array(lengths.length * 64 * width);
  lengths.forEach((L, b) => {
    const s = signal(L, seeds[b]!);
    for (let f = 0; f < 64; f++) x.set(s.subarray(f * L, (f + 1) * L), (b * 64 + f) * width);
  });
  return { x: tf.tensor3d(x, [lengths.length, 64, width]), lengths };
}

const nativeOk = await useBackend("native", { quiet: true }).then(() => true, () => false);
await useBackend("cpu", { quiet: true });

for (const backend of ["cpu", "wasm", "native"] as const) {
  Deno.test({
    name: `the ATST-Frame encoder matches FrameAST on a padded batch (${backend})`,
    ignore: backend === "native" && !nativeOk,
  }, async (t) => {
    await useBackend(backend, { quiet: true });
    const { encoder } = await loadEncoder(FA);
    const { x, lengths } = paddedBatch();
    const ref = readFixtureNpy("frame", "batch.npy"); // [2 blocks + masked, 3, 32, 64]
    const per = ref.data.length / 3;
    await t.step("both block outputs through norm_frame, no [CLS], within 1e-4", async () => {
      const outs = encoder.blockOutputs(x, lengths, 12); // clipped to the depth
      assert.equal(outs.length, 2);
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(outs[i]!.shape, [3, 32, 64]);
        const err = relErr(await outs[i]!.data(), ref.data.subarray(i * per, (i + 1) * per));
        console.log(`frame block ${i} relative error (${backend}): ${err.toExponential(2)}`);
        assertAtMost(err, 1e-4, `block ${i} relative error on ${backend}`);
      }
      tf.dispose(outs);
    });
    await t.step("masked tokens take mask_embed before the positions", async () => {
      const mask = tf.tensor2d(refs.batch.mask, [3, 32]);
      const y = encoder.forward(x, lengths, { mask });
      const err = relErr(await y.data(), ref.data.subarray(2 * per));
      console.log(`frame masked forward relative error (${backend}): ${err.toExponential(2)}`);
      assertAtMost(err, 1e-4, `masked forward relative error on ${backend}`);
      // The mask matters: unmasked, the last block differs from the masked reference.
      const plain = encoder.forward(x, lengths);
      assert.ok(relErr(await plain.data(), ref.data.subarray(2 * per)) > 1e-2);
      tf.dispose([mask, y, plain]);
    });
    await t.step("forward leaves no tensors behind", async () => {
      await assertNoTensorLeak(async () => {
        const y = encoder.forward(x, lengths);
        await y.data();
        y.dispose();
        tf.dispose(encoder.blockOutputs(x, lengths, 2));
      }, "frame forward");
    });
    x.dispose();
    encoder.dispose();
    await useBackend("cpu", { quiet: true });
  });
}

Deno.test("the frame family has no cls_token, norm_frame, and refuses empty inputs", () => {
  const enc = new Encoder(encoderConfig("tiny", { family: "frame" }), { seed: 2 });
  const names = [...enc.params().keys()];
  assert.ok(!names.includes("cls_token") && !names.includes("norm.weight"));
  assert.ok(names.includes("norm_frame.weight") && names.includes("mask_embed"));
  assert.equal(enc.lead, 0);
  const y = enc.forward(tf.zeros([1, 64, 403]), [403]);
  assert.deepEqual(y.shape, [1, 100, 192]);
  y.dispose();
  assert.throws(() => enc.forward(tf.zeros([1, 64, 3]), [3]), /3 frames holds no patch/);
  enc.dispose();
  const clip = new Encoder(encoderConfig("tiny"), { seed: 2 });
  assert.throws(
    () => clip.forward(tf.zeros([1, 64, 8]), [8], { mask: tf.zeros([1, 2]) }),
    /ATST-Clip encoders take no token mask/,
  );
  clip.dispose();
});

Deno.test("the authors' checkpoint layouts load the teacher / fine-tuned frame encoder", async (t) => {
  const teacher = importTorchCheckpoint(await Deno.readFile(FA));
  await t.step(
    "pre-training .ckpt: model.teacher.encoder.*, family and size from keys",
    async () => {
      assert.equal(teacher.source, "lightning");
      assert.equal(teacher.trainCropSeconds, 10); // hyper_parameters.anchor_len
      assert.equal(teacher.tensors.size, 4 + 2 * 11 + 2);
      const { encoder, meta } = await loadEncoder(FA);
      assert.equal(meta.encoder.family, "frame");
      assert.deepEqual([meta.encoder.dim, meta.encoder.depth, meta.encoder.heads], [64, 2, 1]);
      encoder.dispose();
    },
  );
  for (
    const [name, source] of [["fa_finetuned.ckpt", "finetuned"], ["fa_c2f.ckpt", "finetuned-c2f"]]
  ) {
    await t.step(`${name}: ${source}, heads ignored, the same weights`, async () => {
      const imp = importTorchCheckpoint(await Deno.readFile(fixture("frame", name!)));
      assert.equal(imp.source, source);
      assert.deepEqual([...imp.tensors.keys()].sort(), [...teacher.tensors.keys()].sort());
      for (const [k, v] of teacher.tensors) assert.deepEqual(imp.tensors.get(k), v, k);
      const a = await loadEncoder(fixture("frame", name!));
      assert.equal(a.meta.encoder.family, "frame");
      const ta = await encoderTensors(a.encoder);
      assert.equal(ta.size, teacher.tensors.size);
      a.encoder.dispose();
    });
  }
});

Deno.test("timestamp and scene embeddings match embedding.py on chunked widths", async (t) => {
  const { encoder } = await loadEncoder(FA);
  for (const [w, c] of Object.entries(refs.widths)) {
    await t.step(`${w} frames: ${c.tokens} tokens`, async () => {
      const src = memorySource({ data: signal(Number(w), c.seed), nMels: 64, frames: Number(w) });
      const parts: Float32Array[] = [];
      for await (const p of timestampEmbedding(encoder, src, { blocks: 12, batch: 2 })) {
        parts.push(p);
      }
      assert.equal(parts.length, frameChunks(Number(w), 1001).filter((ch) => ch.width >= 4).length);
      const rows = parts.reduce((a, p) => a + p.length, 0) / 128;
      assert.equal(rows, c.tokens);
      if (c.tokens > 0) {
        const last = parts.at(-1)!;
        assertAtMost(relErr(last.subarray(last.length - 128), c.lastToken), 1e-4, "last token");
      }
      const scene = await sceneEmbedding(encoder, src, { blocks: 12, batch: 3 });
      assert.equal(scene.length, 128);
      if (c.tokens === 0) assert.ok(scene.every((v) => v === 0));
      else assertAtMost(relErr(scene, c.scene), 1e-4, `scene embedding of ${w} frames`);
    });
  }
  await t.step("a batch of chunks gives what chunks alone give, no tensors left", async () => {
    const src = memorySource({ data: signal(2003, 40), nMels: 64, frames: 2003 });
    await assertNoTensorLeak(async () => {
      const a = await sceneEmbedding(encoder, src, { blocks: 12, batch: 1 });
      const b = await sceneEmbedding(encoder, src, { blocks: 12, batch: 8 });
      assertAtMost(maxAbsDiff(a, b), 1e-5, "batch 1 vs 8");
    }, "scene embedding");
  });
  encoder.dispose();
});

Deno.test("our .safetensors keeps the family; older files without one load as ATST-Clip", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "frame_st_" });
  const { saveEncoder, readSafetensors, writeSafetensors } = await import(
    "../lib/model/checkpoint.ts"
  );
  const { encoder } = await loadEncoder(FA);
  const path = `${dir}/f.safetensors`;
  await saveEncoder(path, encoder, { trainCropSeconds: 10 });
  await t.step("a frame encoder round-trips with family frame and identical weights", async () => {
    const back = await loadEncoder(path);
    assert.equal(back.meta.encoder.family, "frame");
    const a = await encoderTensors(encoder), b = await encoderTensors(back.encoder);
    for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
    back.encoder.dispose();
  });
  await t.step("a misshapen norm_frame is one line naming it", async () => {
    const st = readSafetensors(await Deno.readFile(path));
    st.tensors.set("norm_frame.bias", { shape: [63], data: new Float32Array(63), dtype: "F32" });
    const bad = `${dir}/bad.safetensors`;
    await Deno.writeFile(bad, writeSafetensors(st.tensors, st.metadata));
    await assert.rejects(
      loadEncoder(bad),
      /tensor 'norm_frame\.bias' of shape \[63\], expected \[64\]/,
    );
  });
  await t.step("b.safetensors (no family in its config) is ATST-Clip", async () => {
    const b = await loadEncoder(fixture("model", "b.safetensors"));
    assert.equal(b.meta.encoder.family, "clip");
    assert.ok(b.encoder.clsToken !== null);
    b.encoder.dispose();
  });
  encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});
