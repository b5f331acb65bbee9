import assert from "node:assert/strict";
import { join } from "node:path";
import type { InputError } from "../lib/errors.ts";
import { expandInputs, findAudioFiles, mirrorPath, parseShard } from "../lib/audio/inputs.ts";
import { readLabeledSet } from "../lib/probe/labeled_set.ts";
import { fixture, floatWav, runCli } from "./_helpers.ts";
import { audio } from "./_model_inputs.ts";

/**
 * A labeled folder whose files are reached in every way a folder search has
 * to handle, 10 clips per label:
 *
 * - set/cat/c0.wav .. c7.wav, and c8.wave (an extension only
 *   lib/audio/inputs.ts used to know)
 * - set/cat/c9.wav, a link to a file outside the set
 * - set/dog, a link to a folder outside the set: d0.wav .. d4.wav, and
 *   more/, a link to yet another folder holding d5.wav .. d9.wav
 * - set/dog/more/back, a link back up to the set (a cycle), and notes.txt
 */
async function labeledTree(): Promise<{ root: string; set: string }> {
  const root = await Deno.makeTempDir({ prefix: "atst_same_" });
  const set = join(root, "set");
  const put = async (path: string, seed: number) => {
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, floatWav(audio(1, seed)));
  };
  for (let i = 0; i < 8; i++) await put(join(set, "cat", `c${i}.wav`), i);
  await put(join(set, "cat", "c8.wave"), 8);
  await put(join(root, "elsewhere", "x.wav"), 9);
  await Deno.symlink(join(root, "elsewhere", "x.wav"), join(set, "cat", "c9.wav"));
  for (let i = 0; i < 5; i++) await put(join(root, "dogs", `d${i}.wav`), 10 + i);
  for (let i = 5; i < 10; i++) await put(join(root, "more_dogs", `d${i}.wav`), 10 + i);
  await Deno.writeTextFile(join(root, "more_dogs", "notes.txt"), "not audio");
  await Deno.symlink(join(root, "more_dogs"), join(root, "dogs", "more"));
  await Deno.symlink(set, join(root, "more_dogs", "back"));
  await Deno.symlink(join(root, "dogs"), join(set, "dog"));
  return { root, set };
}

const EXPECTED = [
  ...Array.from({ length: 8 }, (_, i) => `cat/c${i}.wav`),
  "cat/c8.wave",
  "cat/c9.wav",
  ...Array.from({ length: 5 }, (_, i) => `dog/d${i}.wav`),
  ...Array.from({ length: 5 }, (_, i) => `dog/more/d${i + 5}.wav`),
];

Deno.test("embed DIR and probe DIR see the same files", async (t) => {
  const { root, set } = await labeledTree();
  try {
    await t.step("the input expansion and the labeled folder list the same paths", async () => {
      const { files, errors } = await expandInputs([set]);
      assert.deepEqual(errors, []);
      assert.deepEqual(files.map((f) => f.rel), EXPECTED);
      const labeled = await readLabeledSet(set);
      assert.deepEqual(labeled.items.map((i) => i.path), EXPECTED);
      assert.deepEqual(labeled.items.map((i) => i.labels[0]), EXPECTED.map((p) => p.split("/")[0]));
    });

    await t.step("atst probe reads every embedding atst embed wrote for the folder", async () => {
      const emb = join(root, "emb");
      const e = await runCli([
        "embed",
        "--model",
        fixture("model", "a.ckpt"),
        set,
        "--out",
        emb,
        "--quiet",
        "--backend",
        "cpu",
      ]);
      assert.equal(e.code, 0, e.stderr);
      for (const rel of EXPECTED) await Deno.stat(mirrorPath(emb, rel));
      const p = await runCli([
        "probe",
        set,
        "--embeddings",
        emb,
        "--epochs",
        "3",
        "--quiet",
        "--backend",
        "cpu",
      ]);
      assert.equal(p.code, 0, p.stderr);
      const counts = JSON.parse(p.stdout).folds[0].counts;
      assert.equal(counts.train + counts.valid + counts.test, EXPECTED.length);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("featurize and embed refuse the same output clash: a.wav and a.wave both mirror to a.npy", async () => {
  const root = await Deno.makeTempDir({ prefix: "atst_clash_" });
  try {
    await Deno.mkdir(join(root, "in"));
    await Deno.writeFile(join(root, "in", "a.wav"), floatWav(audio(1, 1)));
    await Deno.writeFile(join(root, "in", "a.wave"), floatWav(audio(1, 2)));
    const model = ["--model", fixture("model", "a.ckpt"), "--backend", "cpu"];
    for (const [cmd, extra] of [["featurize", []], ["embed", model]] as const) {
      const out = join(root, cmd);
      const r = await runCli([cmd, join(root, "in"), "--out", out, "--quiet", ...extra]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /a\.wave'.*output '.*a\.npy' would overwrite that of '.*a\.wav'/);
      await Deno.stat(join(out, "a.npy"));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("one folder search, one shard flag and one output-path rule serve every command", async (t) => {
  await t.step(
    "a broken link with an audio name is an error; other names are passed over",
    async () => {
      const root = await Deno.makeTempDir({ prefix: "atst_links_" });
      try {
        await Deno.symlink(join(root, "gone.wav"), join(root, "a.wav"));
        await Deno.symlink(join(root, "gone.txt"), join(root, "b.txt"));
        const errors: InputError[] = [];
        assert.deepEqual(await findAudioFiles(root, { errors }), []);
        assert.deepEqual(errors.map((e) => e.path), [join(root, "a.wav")]);
        await assert.rejects(() => findAudioFiles(root), Deno.errors.NotFound);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  );
  await t.step("--shard K/N", () => {
    assert.deepEqual(parseShard(undefined), [1, 1]);
    assert.deepEqual(parseShard(" 2/4 "), [2, 4]);
    for (const bad of ["0/2", "3/2", "1/0", "a/b", "1"]) {
      assert.throws(() => parseShard(bad), /Flag --shard expects K\/N with 1 <= K <= N/);
    }
  });
  await t.step("mirrored outputs replace the extension and stay inside the folder", () => {
    assert.equal(mirrorPath("out", "sub/a.wav"), join("out", "sub", "a.npy"));
    assert.equal(mirrorPath("out", "a.b/c"), join("out", "a.b", "c.npy"));
    assert.equal(mirrorPath("out", ".hidden"), join("out", ".hidden.npy"));
    assert.equal(mirrorPath("out", "../up.wav"), join("out", "up.npy"));
    assert.equal(mirrorPath("out", "/abs/x.flac", { ext: ".json" }), join("out", "abs", "x.json"));
  });
});
