import assert from "node:assert/strict";
import { join } from "node:path";
import { readNpy } from "../lib/io/npy.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { embedFiles, type EmbedResult } from "../lib/embed/embed_files.ts";
import { fixture, floatWav, maxAbsDiff, runCli } from "./_helpers.ts";
import { audio } from "./_model_inputs.ts";

const A = fixture("model", "a.ckpt");

/** in/a.wav (3 s), in/sub/b.wav (14 s), in/bad.wav (text) under a temp folder. */
async function inputs(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "in", "sub"), { recursive: true });
  await Deno.writeFile(join(dir, "in", "a.wav"), floatWav(audio(3, 1)));
  await Deno.writeFile(join(dir, "in", "sub", "b.wav"), floatWav(audio(14, 2)));
  await Deno.writeTextFile(join(dir, "in", "bad.wav"), "this is not audio");
  return dir;
}

Deno.test("atst embed --out mirrors paths as .npy with embed.json, names bad files, exits 1", async () => {
  const dir = await inputs();
  const out = join(dir, "out");
  const r = await runCli([
    "embed",
    "--model",
    A,
    join(dir, "in"),
    "--out",
    out,
    "--quiet",
    "--backend",
    "cpu",
  ]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^atst: Cannot read '.*bad\.wav': /);
  const a = await readNpy(join(out, "a.npy"));
  const b = await readNpy(join(out, "sub", "b.npy"));
  assert.deepEqual(a.shape, [256]);
  assert.deepEqual(b.shape, [256]);
  const meta = JSON.parse(await Deno.readTextFile(join(out, "embed.json")));
  const model = await loadEncoder(A);
  assert.equal(meta.model.sha256, model.meta.sha256);
  assert.equal(meta.settings.dim, 256);
  assert.equal(meta.backend, "cpu");
  // The CLI writes exactly what the library computes.
  const got: EmbedResult[] = [];
  await embedFiles(
    model,
    [{ path: join(dir, "in", "sub", "b.wav"), rel: "sub/b.wav" }],
    {},
    (x) => void got.push(x),
  );
  assert.ok("clip" in got[0]!);
  assert.equal(maxAbsDiff(b.data, got[0].clip), 0);
  model.encoder.dispose();

  await Deno.remove(join(out, "a.npy"));
  const bTime = (await Deno.stat(join(out, "sub", "b.npy"))).mtime;
  const again = await runCli(
    [
      "embed",
      "--model",
      A,
      join(dir, "in"),
      "--out",
      out,
      "--skip-existing",
      "--quiet",
      "--backend",
      "cpu",
    ],
  );
  assert.equal(again.code, 1);
  assert.deepEqual(
    (await readNpy(join(out, "a.npy"))).data,
    a.data,
    "--skip-existing redoes the missing one",
  );
  assert.deepEqual(
    (await Deno.stat(join(out, "sub", "b.npy"))).mtime,
    bTime,
    "and leaves the others alone",
  );
  const other = await runCli(
    ["embed", "--model", A, join(dir, "in"), "--out", out, "--skip-existing", "--blocks", "1"],
  );
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds embeddings from another model or other settings/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atst embed streams JSON Lines and CSV to stdout", async () => {
  const dir = await inputs();
  const files = [join(dir, "in", "a.wav"), join(dir, "in", "sub", "b.wav")];
  const j = await runCli(["embed", "--model", A, ...files, "--quiet"]);
  assert.equal(j.code, 0, j.stderr);
  const recs = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(recs.length, 3);
  assert.match(recs[0].model.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(recs.slice(1).map((r) => r.path), files);
  assert.equal(recs[1].embedding.length, 256);
  const c = await runCli([
    "embed",
    "--model",
    A,
    ...files,
    "--format",
    "csv",
    "--pool",
    "mean",
    "--quiet",
  ]);
  assert.equal(c.code, 0, c.stderr);
  const rows = c.stdout.trim().split("\n");
  assert.equal(rows[0], ["path", ...Array.from({ length: 128 }, (_, i) => `e${i}`)].join(","));
  assert.equal(rows.length, 3);
  // --pool mean is the second half of --pool both.
  const mean = rows[1]!.split(",").slice(1).map(Number);
  assert.ok(maxAbsDiff(mean, recs[1].embedding.slice(128)) < 1e-6);
  const s1 = await runCli(["embed", "--model", A, ...files, "--shard", "1/2", "--quiet"]);
  const s2 = await runCli(["embed", "--model", A, ...files, "--shard", "2/2", "--quiet"]);
  const paths = (s: string) => s.trim().split("\n").slice(1).map((l) => JSON.parse(l).path);
  assert.deepEqual([...paths(s1.stdout), ...paths(s2.stdout)], files);
  await Deno.remove(dir, { recursive: true });
});

/** Embeds in/a.wav with `flags` (quietly) and asserts it succeeded. */
async function embedA(dir: string, ...flags: string[]): Promise<{ stdout: string }> {
  const r = await runCli(["embed", "--model", A, join(dir, "in", "a.wav"), ...flags, "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

Deno.test("atst embed of one file writes the output it is asked for", async (t) => {
  const dir = await inputs();
  await t.step("--frames writes [frames, dim] with patch-centre times", async () => {
    const out = join(dir, "fr");
    await embedA(dir, "--frames", "--out", out);
    const e = await readNpy(join(out, "a.npy"));
    const times = await readNpy(join(out, "a.times.npy"));
    assert.deepEqual(e.shape, [75, 64]); // 3 s = 301 frames = 75 patches
    assert.deepEqual(Array.from(times.data.subarray(0, 2)), [15, 55]);
  });
  await t.step(
    "--format jsonl --out emb.jsonl writes that file, replacing an old one",
    async () => {
      const file = join(dir, "emb.jsonl");
      await Deno.writeTextFile(file, "old\n");
      const r = await embedA(dir, "--format", "jsonl", "--out", file, "--blocks", "1");
      assert.equal(r.stdout, "");
      const lines = (await Deno.readTextFile(file)).trim().split("\n");
      assert.equal(lines.length, 2); // header + one clip
      assert.ok(Array.isArray(JSON.parse(lines[1]!).embedding));
    },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atst embed with a bad checkpoint or flags exits 2 with one line and writes nothing", async () => {
  const dir = await inputs();
  const bad = join(dir, "bad.ckpt");
  await Deno.writeTextFile(bad, "not a model");
  const out = join(dir, "out");
  const r = await runCli(["embed", "--model", bad, join(dir, "in"), "--out", out, "--quiet"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(
    r.stderr,
    /^atst: Checkpoint '.*bad\.ckpt' is neither an atst \.safetensors nor a PyTorch/,
  );
  await assert.rejects(Deno.stat(out));
  const u = await runCli(["embed", "--model", A, join(dir, "in"), "--format", "npy"]);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /Format npy needs --out DIR/);
  const h = await runCli(["embed", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: atst embed --model CKPT/);
  await Deno.remove(dir, { recursive: true });
});
