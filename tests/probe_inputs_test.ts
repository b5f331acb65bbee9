import assert from "node:assert/strict";
import { join } from "node:path";
import { writeNpy } from "../lib/io/npy.ts";
import { npyCandidates } from "../lib/embed/format.ts";
import { embeddingsFromJsonl, readEmbeddings } from "../lib/probe/embeddings.ts";
import { parseCsv, parseLabeledCsv, readLabeledSet } from "../lib/probe/labeled_set.ts";

Deno.test("labeled sets read from CSV (quoted, multi-label) and from label folders", async (t) => {
  await t.step("CSV quoting and multi-label rows", () => {
    assert.deepEqual(parseCsv('path,label\n"a, b.wav","x;""y"""\r\n\n'), [["path", "label"], [
      "a, b.wav",
      'x;"y"',
    ]]);
    const set = parseLabeledCsv("path,labels\nm.wav,speech; music\nn.wav,music\n", "/d/l.csv");
    assert.deepEqual(set.items.map((i) => i.labels), [["speech", "music"], ["music"]]);
    assert.equal(set.items[0]!.resolved, "/d/m.wav");
  });
  const dir = await Deno.makeTempDir({ prefix: "probe_set_" });
  try {
    for (
      const p of [
        "train/cat/1.wav",
        "train/dog/2.WAV",
        "test/cat/3.flac",
        "test/dog/4.wav",
        "test/dog/notes.txt",
      ]
    ) {
      await Deno.mkdir(join(dir, p, ".."), { recursive: true });
      await Deno.writeFile(join(dir, p), new Uint8Array(1));
    }
    await t.step("a folder of split/label sub-folders", async () => {
      const set = await readLabeledSet(dir);
      assert.deepEqual(set.items.map((i) => [i.path, i.labels[0], i.split]), [
        ["test/cat/3.flac", "cat", "test"],
        ["test/dog/4.wav", "dog", "test"],
        ["train/cat/1.wav", "cat", "train"],
        ["train/dog/2.WAV", "dog", "train"],
      ]);
      assert.equal(set.multiLabel, false);
    });
    await t.step(
      "a CSV is multi-label when any row has several labels, unless --task single",
      async () => {
        const csv = join(dir, "l.csv");
        await Deno.writeTextFile(csv, "path,label\na,x;y\nb,x\n");
        assert.equal((await readLabeledSet(csv)).multiLabel, true);
        await assert.rejects(
          () => readLabeledSet(csv, { task: "single" }),
          /has 2 labels but --task single/,
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embeddings are found as .npy files mirroring the paths, or in a JSONL or CSV file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "probe_emb_" });
  try {
    const set = parseLabeledCsv("path,label\ndata/a/x.wav,a\ndata/b/y.wav,b\n", join(dir, "l.csv"));
    await writeNpy(join(dir, "emb/a/x.wav.npy"), { shape: [3], data: Float32Array.of(1, 2, 3) });
    await writeNpy(join(dir, "emb/b/y.npy"), { shape: [1, 3], data: Float32Array.of(4, 5, 6) });
    await t.step("candidate names drop the extension and leading folders", () => {
      assert.deepEqual(npyCandidates("data/a/x.wav").slice(0, 4), [
        "data/a/x.wav.npy",
        "data/a/x.npy",
        "a/x.wav.npy",
        "a/x.npy",
      ]);
    });
    await t.step("a folder of .npy files", async () => {
      const tab = await readEmbeddings(join(dir, "emb"), set.items);
      assert.deepEqual([tab.n, tab.dim, Array.from(tab.x)], [2, 3, [1, 2, 3, 4, 5, 6]]);
    });
    await t.step("a JSONL file with a header line", async () => {
      const file = join(dir, "e.jsonl");
      const sha = "ab".repeat(32);
      await Deno.writeTextFile(
        file,
        `{"format":"atst-embeddings","model":{"sha256":"${sha}"}}\n{"path":"/elsewhere/data/b/y.wav","embedding":[4,5,6]}\n{"path":"data/a/x.wav","embedding":[1,2,3]}\n`,
      );
      const tab = await embeddingsFromJsonl(file, set.items);
      assert.deepEqual(Array.from(tab.x), [1, 2, 3, 4, 5, 6]);
      assert.equal(tab.modelSha256, sha);
    });
    await t.step("a CSV file as written by embed --format csv", async () => {
      const file = join(dir, "e.csv");
      await Deno.writeTextFile(file, 'path,e0,e1,e2\n"data/b/y.wav",4,5,6\ndata/a/x.wav,1,2,3\n');
      assert.deepEqual(Array.from((await readEmbeddings(file, set.items)).x), [1, 2, 3, 4, 5, 6]);
      await Deno.writeTextFile(file, "path,time_ms,e0\ndata/a/x.wav,20,1\n");
      await assert.rejects(() => readEmbeddings(file, set.items), /holds frame embeddings/);
    });
    await t.step(
      "mismatched dimensions, frame embeddings and missing files are errors",
      async () => {
        await writeNpy(join(dir, "emb/b/y.npy"), { shape: [4], data: Float32Array.of(4, 5, 6, 7) });
        await assert.rejects(
          () => readEmbeddings(join(dir, "emb"), set.items),
          /has 4 values but .* has 3/,
        );
        await writeNpy(join(dir, "emb/b/y.npy"), { shape: [2, 3], data: new Float32Array(6) });
        await assert.rejects(
          () => readEmbeddings(join(dir, "emb"), set.items),
          /shape \[2, 3\]; the probe needs one clip embedding/,
        );
        await Deno.remove(join(dir, "emb/b/y.npy"));
        await assert.rejects(
          () => readEmbeddings(join(dir, "emb"), set.items),
          /No embedding for 'data\/b\/y.wav'/,
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
