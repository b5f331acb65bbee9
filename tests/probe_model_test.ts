import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { UserError } from "../lib/errors.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { embedFiles } from "../lib/embed/embed_files.ts";
import { parseLabeledCsv } from "../lib/probe/labeled_set.ts";
import { embedWithModel } from "../lib/probe/model_embeddings.ts";
import { pcm16Wav } from "./_helpers.ts";

const MODEL = new URL("../fixtures/model/b.safetensors", import.meta.url).pathname;

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
    await Deno.writeFile(join(dir, "audio", `${i}.wav`), pcm16Wav(s));
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
    await t.step(
      "entries are named by the SHA-256 of the file's bytes (caches stay valid)",
      async () => {
        const hex = async (path: string) =>
          Array.from(
            new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))),
            (b) => b.toString(16).padStart(2, "0"),
          ).join("");
        const want = [...new Set(await Promise.all(set.items.map((i) => hex(i.resolved))))];
        assert.deepEqual(entries, want.map((h) => `${h}.npy`).sort());
      },
    );
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
