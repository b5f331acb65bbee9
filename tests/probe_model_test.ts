import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { UserError } from "../lib/cli/errors.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { embedFiles } from "../lib/embed/embed_files.ts";
import { parseLabeledCsv } from "../lib/probe/labeled_set.ts";
import { embedWithModel } from "../lib/probe/model_embeddings.ts";

const MODEL = new URL("../fixtures/model/b.safetensors", import.meta.url).pathname;

/** 16-bit PCM mono 16 kHz WAV bytes. */
function wav(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string) => [...s].forEach((ch, i) => (out[o + i] = ch.charCodeAt(0)));
  tag(0, "RIFF");
  dv.setUint32(4, 36 + samples.length * 2, true);
  tag(8, "WAVE");
  tag(12, "fmt ");
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, 1, true); // mono
  dv.setUint32(24, 16000, true);
  dv.setUint32(28, 32000, true);
  dv.setUint16(32, 2, true);
  dv.setUint16(34, 16, true);
  tag(36, "data");
  dv.setUint32(40, samples.length * 2, true);
  samples.forEach((v, i) =>
    dv.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, v)) * 32767), true)
  );
  return out;
}

/** Six clips: tones at 300/500 Hz (two files share content) and chirps; labels tone/chirp. */
async function audioSet(dir: string): Promise<string> {
  const rows = ["path,label,split"];
  for (let i = 0; i < 6; i++) {
    const tone = i % 2 === 0;
    const f = tone ? (i < 4 ? 300 : 500) : 200 + 100 * i;
    const s = Float32Array.from(
      { length: 8000 },
      (_, t) => 0.5 * Math.sin(2 * Math.PI * f * t * (tone ? 1 : 1 + t / 16000) / 16000),
    );
    await Deno.mkdir(join(dir, "audio"), { recursive: true });
    await Deno.writeFile(join(dir, "audio", `${i}.wav`), wav(s));
    rows.push(`audio/${i}.wav,${tone ? "tone" : "chirp"},train`);
  }
  const csv = join(dir, "labels.csv");
  await Deno.writeTextFile(csv, rows.join("\n") + "\n");
  return csv;
}

Deno.test("--model embeddings equal lib/embed's clip embeddings and are cached by file content", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "probe_model_" });
  const cache = join(dir, "cache");
  try {
    const set = parseLabeledCsv(
      await Deno.readTextFile(await audioSet(dir)),
      join(dir, "labels.csv"),
    );
    const before = tf.memory().numTensors;
    const table = await embedWithModel(MODEL, set.items, { cache, quiet: true });
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    const model = await loadEncoder(MODEL);
    await t.step("rows match embedFiles on the same files", async () => {
      const direct: Float32Array[] = [];
      await embedFiles(model, set.items.map((i) => ({ path: i.resolved, rel: i.path })), {
        mode: "clip",
      }, (r) => {
        if ("clip" in r) direct.push(r.clip);
      });
      assert.equal(table.dim, direct[0]!.length);
      assert.equal(table.dim, 2 * 3 * 32); // [CLS, mean] x 3 blocks x dim 32
      direct.forEach((v, i) =>
        assert.deepEqual(table.x.subarray(i * table.dim, (i + 1) * table.dim), v)
      );
      assert.equal(table.modelSha256, model.meta.sha256);
    });
    model.encoder.dispose();
    const sub = [...Deno.readDirSync(cache)];
    assert.equal(sub.length, 1);
    assert.ok(sub[0]!.name.startsWith(table.modelSha256!.slice(0, 16)));
    const entries = [...Deno.readDirSync(join(cache, sub[0]!.name))].map((e) => e.name).sort();
    await t.step("one entry per distinct file content (files 0 and 2 are identical)", () => {
      assert.equal(entries.length, 5);
    });
    await t.step("a second run reads the cache instead of embedding", async () => {
      // Plant a recognisable vector in one entry: the next run must return it.
      const entry = join(cache, sub[0]!.name, entries[0]!);
      const planted = Float32Array.from({ length: table.dim }, (_, k) => k);
      await writeNpy(entry, { shape: [table.dim], data: planted });
      const again = await embedWithModel(MODEL, set.items, { cache, quiet: true });
      const hits = Array.from(
        { length: again.n },
        (_, i) => again.x[i * again.dim + 5] === 5 && again.x[i * again.dim + 7] === 7,
      );
      assert.ok(hits.some((h) => h), "the planted cache entry was not used");
      // A damaged entry is recomputed and rewritten.
      await Deno.writeTextFile(entry, "not npy");
      const fixed = await embedWithModel(MODEL, set.items, { cache, quiet: true });
      assert.deepEqual(fixed.x, table.x);
      assert.equal((await readNpy(entry)).data.length, table.dim);
    });
    await t.step("a missing audio file is a one-line UserError", async () => {
      await Deno.remove(join(dir, "audio", "3.wav"));
      await assert.rejects(
        () => embedWithModel(MODEL, set.items, { cache: null, quiet: true }),
        (e: Error) =>
          e instanceof UserError && e.message === "Cannot read 'audio/3.wav': no such file",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
