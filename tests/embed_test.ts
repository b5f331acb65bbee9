import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { clipChunks, embedClips, embedFrames } from "../lib/embed/pooling.ts";
import { embedFiles, type EmbedInput, type EmbedResult } from "../lib/embed/embed_files.ts";
import { assertAtMost, fixture, floatWav, readFixtureNpy, relErr } from "./_helpers.ts";
import { audio, type ModelRefs, signal } from "./_model_inputs.ts";

const refs: ModelRefs & {
  a_audio: Record<string, { seconds: number; seed: number; frames: number; embedding: number[] }>;
} = JSON.parse(Deno.readTextFileSync(fixture("model", "refs.json")));
const A = fixture("model", "a.ckpt");

Deno.test("clip chunks follow the reference: floor(W/C)+1 chunks, counted by remaining length", () => {
  // 12 s at C = 601: two chunks, the second with 600 remaining frames (> 300).
  assert.deepEqual(clipChunks(1201, 601), [
    { start: 0, width: 601, remaining: 1201 },
    { start: 601, width: 600, remaining: 600 },
  ]);
  // An exact multiple gets a trailing empty chunk that never counts.
  assert.deepEqual(clipChunks(802, 401).map((c) => c.start), [0, 401]);
  // A last chunk with no more than C // 2 frames does not count.
  assert.deepEqual(clipChunks(600, 401).map((c) => c.width), [401]); // 199 left
  assert.deepEqual(clipChunks(700, 401).map((c) => c.width), [401, 299]); // 299 left
  assert.deepEqual(clipChunks(3, 401), [{ start: 0, width: 3, remaining: 3 }]);
});

// The native backend (FFI to OpenBLAS/oneDNN) needs the system libraries; without them its
// tests are reported as ignored, not passed.
const nativeOk = await useBackend("native", { quiet: true }).then(() => true, () => false);
await useBackend("cpu", { quiet: true });

for (const backend of ["cpu", "wasm", "native"] as const) {
  Deno.test({
    name: `clip embeddings match the PyTorch protocol, quirk and corrected mean (${backend})`,
    ignore: backend === "native" && !nativeOk,
  }, async () => {
    await useBackend(backend, { quiet: true });
    const { encoder, meta } = await loadEncoder(A);
    assert.equal(meta.trainCropSeconds, 4); // from the checkpoint's hyper_parameters: C = 401
    const widths = refs.a.widths; // 1201 (12 s: 3 chunks), 802, 530, 87, 3 frames
    const clips = widths.map((w, j) => ({ data: signal(w, j + 1), nMels: 64, frames: w }));
    for (const correctedMean of [false, true]) {
      const out = await embedClips(encoder, clips, {
        chunkFrames: 401,
        blocks: 12,
        pool: "both",
        correctedMean,
        batch: 3,
      });
      widths.forEach((w, j) => {
        const ref = refs.a.clips[String(w)]![correctedMean ? "corrected" : "quirk"];
        assert.equal(out[j]!.length, 2 * 2 * 64); // n clipped to the depth (2)
        assertAtMost(
          relErr(out[j]!, ref),
          1e-4,
          `${w} frames, corrected=${correctedMean}, ${backend}`,
        );
      });
    }
    encoder.dispose();
    await useBackend("cpu", { quiet: true });
  });
}

Deno.test("clip embeddings do not depend on batch composition", async () => {
  const { encoder } = await loadEncoder(A);
  const widths = [1201, 530, 87, 802];
  const clips = widths.map((w, j) => ({ data: signal(w, j + 5), nMels: 64, frames: w }));
  const opts = { chunkFrames: 401, blocks: 2, pool: "both" as const };
  const together = await embedClips(encoder, clips, { ...opts, batch: 8 });
  for (let j = 0; j < clips.length; j++) {
    const [alone] = await embedClips(encoder, [clips[j]!], { ...opts, batch: 1 });
    assertAtMost(relErr(alone!, together[j]!), 1e-6, `clip ${j} alone vs batched`);
  }
  const reversed = await embedClips(encoder, [...clips].reverse(), { ...opts, batch: 3 });
  reversed.reverse().forEach((e, j) =>
    assertAtMost(relErr(e, together[j]!), 1e-6, `clip ${j} reordered`)
  );
  encoder.dispose();
});

Deno.test("frame embeddings match the reference and carry patch-centre times", async () => {
  const { encoder } = await loadEncoder(A);
  const { width, seed } = refs.a_frames;
  const [fr] = await embedFrames(
    encoder,
    [{ data: signal(width, seed), nMels: 64, frames: width }],
    {
      chunkFrames: 401,
      batch: 2,
    },
  );
  const ref = readFixtureNpy("model", "a_frames.npy");
  assert.deepEqual([fr!.frames, fr!.dim], ref.shape); // 530 frames -> 132 patches
  assertAtMost(relErr(fr!.data, ref.data), 1e-4, "frame embeddings relative error");
  assert.deepEqual(Array.from(fr!.timesMs.subarray(0, 3)), [15, 55, 95]);
  encoder.dispose();
});

Deno.test("embedFiles matches torchaudio + PyTorch end to end on 20 s, 7.3 s and 0.5 s files", async () => {
  const dir = await Deno.makeTempDir();
  const model = await loadEncoder(A);
  const names = Object.keys(refs.a_audio);
  const files: EmbedInput[] = [];
  for (const name of names) {
    const r = refs.a_audio[name]!;
    const path = join(dir, `${name}.wav`);
    await Deno.writeFile(path, floatWav(audio(r.seconds, r.seed)));
    files.push({ path, rel: `${name}.wav` });
  }
  const got: EmbedResult[] = [];
  const counts = await embedFiles(model, files, { batch: 2 }, (r) => void got.push(r));
  assert.deepEqual(counts, { ok: 3, failed: 0 });
  got.forEach((r, i) => {
    assert.ok("clip" in r);
    assert.equal(r.file, files[i]);
    // Features agree with torchaudio to ~1e-5; the encoder keeps that relative size.
    assertAtMost(
      relErr(r.clip, refs.a_audio[names[i]!]!.embedding),
      1e-3,
      `${names[i]} end to end`,
    );
  });
  model.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embedFiles reports bad files, embeds the rest and leaks no tensors over 50 files", async () => {
  const dir = await Deno.makeTempDir();
  const model = await loadEncoder(fixture("model", "b.safetensors"));
  const files: EmbedInput[] = [];
  for (let i = 0; i < 50; i++) {
    const path = join(dir, `f${i}.wav`);
    await Deno.writeFile(path, floatWav(audio(0.1 + (i % 7) * 0.05, i)));
    files.push({ path, rel: `f${i}.wav` });
  }
  const broken = join(dir, "broken.wav");
  await Deno.writeTextFile(broken, "not audio");
  files.splice(10, 0, { path: broken, rel: "broken.wav" }, {
    path: join(dir, "missing.wav"),
    rel: "missing.wav",
  });
  const before = tf.memory().numTensors;
  const got: EmbedResult[] = [];
  const counts = await embedFiles(
    model,
    files,
    { batch: 4, mode: "clip", blocks: 3 },
    (r) => void got.push(r),
  );
  assert.equal(tf.memory().numTensors, before, "tensors after 50 files");
  assert.deepEqual(counts, { ok: 50, failed: 2 });
  assert.deepEqual(got.map((r) => r.file.rel), files.map((f) => f.rel), "results in input order");
  const errs = got.filter((r) => "error" in r);
  assert.equal(errs.length, 2);
  for (const r of errs) assert.match(r.error.message, /^Cannot read '.*(broken|missing)\.wav': /);
  const first = got[0]!;
  assert.ok("clip" in first && first.clip.length === 2 * 3 * 32);
  model.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});
