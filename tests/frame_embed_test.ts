import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { UserError } from "../lib/errors.ts";
import { readNpy } from "../lib/io/npy.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import {
  collectFrames,
  embedFiles,
  type EmbedInput,
  type EmbedResult,
} from "../lib/embed/embed_files.ts";
import { embedHeader, openEmbedSink } from "../lib/embed/sink.ts";
import { embedSettings } from "../lib/embed/embed_files.ts";
import { embedWithModel } from "../lib/probe/model_embeddings.ts";
import { parseLabeledCsv } from "../lib/probe/labeled_set.ts";
import { assertAtMost, fixture, floatWav, readFixtureNpy, relErr, runCli } from "./_helpers.ts";
import { audio } from "./_model_inputs.ts";
import { frameRefs } from "./_frame_inputs.ts";

const FA = fixture("frame", "fa.ckpt");
const refs = frameRefs();
const nativeOk = await useBackend("native", { quiet: true }).then(() => true, () => false);
await useBackend("cpu", { quiet: true });

/** The 23 s clip of refs.a23 as a float WAV in `dir`. */
async function clip23(dir: string): Promise<string> {
  const path = join(dir, "a23.wav");
  await Deno.writeFile(path, floatWav(audio(refs.a23.seconds, refs.a23.seed)));
  return path;
}

/** The one result of embedding `path`, frames collected. */
async function embedOne(path: string, opts: Parameters<typeof embedFiles>[2]) {
  const model = await loadEncoder(FA);
  let out: { clip?: Float32Array; frames?: Awaited<ReturnType<typeof collectFrames>> } = {};
  await embedFiles(model, [{ path, rel: "a23.wav" }], opts, async (r) => {
    if ("clip" in r) out = { clip: r.clip };
    else if ("stream" in r) out = { frames: await collectFrames(r.stream) };
    else throw new Error(`unexpected result ${Object.keys(r)}`);
  });
  model.encoder.dispose();
  return out;
}

for (const backend of ["cpu", "native"] as const) {
  Deno.test({
    name: `a 23 s clip through embed matches embedding.py (${backend})`,
    ignore: backend === "native" && !nativeOk,
  }, async (t) => {
    await useBackend(backend, { quiet: true });
    const dir = await Deno.makeTempDir({ prefix: "frame_embed_" });
    const path = await clip23(dir);
    const ref = readFixtureNpy("frame", "a23_frames.npy"); // [574, 128]
    const before = tf.memory().numTensors;
    await t.step(
      "--frames (12 blocks, clipped to 2): timestamp embedding within 1e-4",
      async () => {
        const { frames } = await embedOne(path, { mode: "frames", batch: 2 });
        assert.deepEqual([frames!.frames, frames!.dim], ref.shape);
        const err = relErr(frames!.data, ref.data);
        console.log(
          `timestamp embedding, 12 blocks, relative error (${backend}): ${err.toExponential(2)}`,
        );
        assertAtMost(err, 1e-4, "timestamp embedding relative error");
        // The true token centres, not the authors' 40 k ms (which drift 10 ms per chunk).
        assert.deepEqual(Array.from(frames!.timesMs), refs.a23.centresMs);
        assert.equal(frames!.timesMs[250]! - refs.a23.authorsMs[250]!, 10025 - 10000);
      },
    );
    await t.step("--blocks 1: the last block's columns", async () => {
      const { frames } = await embedOne(path, { mode: "frames", blocks: 1, batch: 3 });
      assert.equal(frames!.dim, 64);
      const last = new Float32Array(574 * 64);
      for (let k = 0; k < 574; k++) {
        last.set(ref.data.subarray(k * 128 + 64, (k + 1) * 128), k * 64);
      }
      const err = relErr(frames!.data, last);
      console.log(
        `timestamp embedding, 1 block, relative error (${backend}): ${err.toExponential(2)}`,
      );
      assertAtMost(err, 1e-4, "1-block relative error");
    });
    await t.step("clip mode: the scene embedding within 1e-4", async () => {
      const { clip } = await embedOne(path, {});
      const err = relErr(clip!, refs.a23.scene);
      console.log(`scene embedding relative error (${backend}): ${err.toExponential(2)}`);
      assertAtMost(err, 1e-4, "scene embedding relative error");
    });
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    await Deno.remove(dir, { recursive: true });
    await useBackend("cpu", { quiet: true });
  });
}

Deno.test("frame streams are encoded as they are read and written in every format", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "frame_sink_" });
  const path = await clip23(dir);
  const model = await loadEncoder(FA);
  const ref = await embedOne(path, { mode: "frames" });
  await t.step("the encoder runs a batch of chunks per read, not the whole file", async () => {
    let calls = 0;
    const real = model.encoder.blockOutputs.bind(model.encoder);
    model.encoder.blockOutputs = (...a) => (calls++, real(...a));
    await embedFiles(model, [{ path, rel: "a23.wav" }], { mode: "frames", batch: 1 }, async (r) => {
      assert.ok("stream" in r);
      assert.equal(calls, 0, "nothing encoded before the stream is read");
      let parts = 0;
      for await (const part of r.stream.chunks) {
        parts++;
        assert.equal(calls, parts, "one chunk encoded per part read");
        assert.ok(part.length <= 250 * 128);
      }
      assert.equal(parts, 3);
    });
    model.encoder.blockOutputs = real;
  });
  const settings = embedSettings(model, { mode: "frames" });
  const header = embedHeader(model, settings, { modelPath: FA, backend: "cpu", version: "test" });
  assert.equal(header.model.encoder.family, "frame");
  assert.equal(header.frameChunkFrames, 1001);
  for (const format of ["npy", "jsonl", "csv"] as const) {
    await t.step(`${format}: the same rows and times as collected`, async () => {
      const out = join(dir, format === "npy" ? "npy" : `e.${format}`);
      const sink = await openEmbedSink(header, { format, out });
      await embedFiles(
        model,
        [{ path, rel: "a23.wav" }],
        { mode: "frames", batch: 2 },
        (r: EmbedResult) => sink.write(r),
      );
      await sink.close();
      const rows = ref.frames!;
      if (format === "npy") {
        const arr = await readNpy(join(out, "a23.npy"));
        assert.deepEqual(arr.shape, [574, 128]);
        assert.deepEqual(arr.data, rows.data);
        assert.deepEqual((await readNpy(join(out, "a23.times.npy"))).data, rows.timesMs);
      } else if (format === "jsonl") {
        const [head, rec] = (await Deno.readTextFile(out)).trimEnd().split("\n").map((l) =>
          JSON.parse(l)
        );
        assert.equal(head.model.encoder.family, "frame");
        assert.deepEqual(rec.times_ms, Array.from(rows.timesMs));
        assert.equal(rec.embedding.length, 574);
        assert.deepEqual(Float32Array.from(rec.embedding.flat()), rows.data);
      } else {
        const lines = (await Deno.readTextFile(out)).trimEnd().split("\n");
        assert.equal(lines.length, 1 + 574);
        const last = lines.at(-1)!.split(",");
        assert.equal(Number(last[1]), rows.timesMs[573]);
        assert.deepEqual(
          Float32Array.from(last.slice(2).map(Number)),
          rows.data.subarray(573 * 128),
        );
      }
    });
  }
  model.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("frame-model settings refuse ATST-Clip pooling flags with one line", async () => {
  const model = await loadEncoder(FA);
  assert.throws(
    () => embedSettings(model, { pool: "both" }),
    (e: unknown) => e instanceof UserError && /no \[CLS\] token: --pool both/.test(e.message),
  );
  assert.throws(() => embedSettings(model, { correctedMean: true }), UserError);
  const s = embedSettings(model, {});
  assert.deepEqual([s.mode, s.blocks, s.pool, s.dim, s.chunkFrames], [
    "clip",
    2,
    "mean",
    128,
    1001,
  ]);
  model.encoder.dispose();
});

Deno.test("probe --model with a frame model uses its scene embeddings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "frame_probe_" });
  await clip23(dir);
  const csv = join(dir, "labels.csv");
  await Deno.writeTextFile(csv, "path,label,split\na23.wav,x,train\n");
  const set = parseLabeledCsv(await Deno.readTextFile(csv), csv);
  const table = await embedWithModel(FA, set.items, { cache: null, quiet: true });
  assert.equal(table.dim, 128);
  assertAtMost(relErr(table.x.subarray(0, 128), refs.a23.scene), 1e-4, "probe scene embedding");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embed --model with a checkpoint of neither family exits 2 naming the tensor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "frame_bad_" });
  const { readSafetensors, writeSafetensors } = await import("../lib/model/checkpoint.ts");
  const st = readSafetensors(await Deno.readFile(fixture("model", "b.safetensors")));
  st.tensors.delete("cls_token");
  delete st.metadata.encoder; // shapes and keys decide
  const bad = join(dir, "bad.safetensors");
  await Deno.writeFile(bad, writeSafetensors(st.tensors, st.metadata));
  const wav = join(dir, "a.wav");
  await Deno.writeFile(wav, floatWav(audio(0.5, 1)));
  const r = await runCli(["embed", "--model", bad, wav, "--quiet"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /lacks tensor 'cls_token' of an ATST-Clip encoder/);
  await Deno.remove(dir, { recursive: true });
});

for (const backend of ["cpu", "native"] as const) {
  Deno.test({
    name:
      `files of mixed lengths share encoder calls and equal each file embedded alone (${backend})`,
    ignore: backend === "native" && !nativeOk,
  }, async (t) => {
    await useBackend(backend, { quiet: true });
    const dir = await Deno.makeTempDir({ prefix: "frame_batch_" });
    // 301 frames (under a chunk), 1001 (exactly one), 2301 (three), 2003 (two and a 1-frame tail).
    const lengths = { short: 48000, one: 160000, three: 368000, tail: 320320 };
    const files: EmbedInput[] = [];
    for (const [i, [name, n]] of Object.entries(lengths).entries()) {
      const path = join(dir, `${name}.wav`);
      await Deno.writeFile(path, floatWav(audio(n / 16000 + 1, i + 2).subarray(0, n)));
      files.push({ path, rel: `${name}.wav` });
    }
    // A bad file in the middle keeps its place and its group goes on.
    files.splice(2, 0, { path: join(dir, "missing.wav"), rel: "missing.wav" });
    const model = await loadEncoder(FA);
    let calls = 0;
    const real = model.encoder.blockOutputs.bind(model.encoder);
    model.encoder.blockOutputs = (...a) => (calls++, real(...a));
    const before = tf.memory().numTensors;
    const run = async (inputs: typeof files, mode: "clip" | "frames") => {
      const out: { rel: string; data?: Float32Array; timesMs?: Float64Array }[] = [];
      await embedFiles(model, inputs, { mode, batch: 8 }, async (r) => {
        if ("clip" in r) out.push({ rel: r.file.rel, data: r.clip });
        else if ("stream" in r) {
          const f = await collectFrames(r.stream);
          out.push({ rel: r.file.rel, data: f.data, timesMs: f.timesMs });
        } else out.push({ rel: r.file.rel });
      });
      return out;
    };
    for (const mode of ["clip", "frames"] as const) {
      await t.step(`${mode}: one encoder call for 7 chunks of 4 files, within 1e-5`, async () => {
        calls = 0;
        const batched = await run(files, mode);
        assert.equal(calls, 1, "the 7 token chunks go through one encoder call at batch 8");
        assert.deepEqual(batched.map((r) => r.rel), files.map((f) => f.rel));
        assert.equal(batched[2]!.data, undefined, "the missing file is an error");
        for (const [i, file] of files.entries()) {
          if (i === 2) continue;
          const [alone] = await run([file], mode);
          const got = batched[i]!;
          assert.equal(got.data!.length, alone!.data!.length, `${file.rel} width`);
          const err = relErr(got.data!, alone!.data!);
          console.log(
            `${mode} ${file.rel}, batched vs alone (${backend}): ${err.toExponential(2)}`,
          );
          assertAtMost(err, 1e-5, `${file.rel} batched vs alone`);
          assert.deepEqual(got.timesMs, alone!.timesMs);
        }
        const rows = batched.map((r) => (r.data?.length ?? 0) / 128);
        if (mode === "frames") assert.deepEqual(rows, [75, 250, 0, 574, 500]);
        else assert.deepEqual(rows, [1, 1, 0, 1, 1]);
      });
    }
    model.encoder.blockOutputs = real;
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    model.encoder.dispose();
    await Deno.remove(dir, { recursive: true });
    await useBackend("cpu", { quiet: true });
  });
}
