import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clipFixtures,
  fixture,
  frameDiff,
  permissionsEnforcedWrapper,
  runCli,
  sameInputFeatures,
} from "./_audio_helpers.ts";
import { readNpy } from "../lib/io/npy.ts";
import { parseFeaturesJsonl } from "../lib/features/features_jsonl.ts";

const TOLERANCE = 1e-4; // REFERENCE.md §7

/** All files under `dir`, relative, sorted. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...(await listTree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

Deno.test("featurize writes one [64, T] float32 .npy per input, mirroring folders, matching torchaudio", async () => {
  const out = await Deno.makeTempDir({ prefix: "atst_feat_" });
  const r = await runCli([
    "featurize",
    fixture("audio", "codecs"),
    fixture("audio", "stereo_44k.wav"),
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  const written = await listTree(out);
  assert.deepEqual(written, [
    "aac.npy",
    "aiff.npy",
    "flac.npy",
    "mp3.npy",
    "opus.npy",
    "stereo_44k.npy",
    "vorbis.npy",
    "wav_f32.npy",
    "wav_f64.npy",
    "wav_s16.npy",
    "wav_s24.npy",
    "wav_s32.npy",
    "wav_u8.npy",
    "webm.npy",
  ]);
  const byName = new Map(
    clipFixtures().map((c) => [c.file.split("/").pop()!.replace(/\.\w+$/, ""), c]),
  );
  for (const name of written) {
    const arr = await readNpy(join(out, name));
    const ref = sameInputFeatures(byName.get(name.replace(".npy", ""))!);
    assert.ok(arr.data instanceof Float32Array);
    assert.deepEqual(arr.shape, ref.shape, name);
    const d = frameDiff({ data: arr.data, frames: arr.shape[1]! }, {
      data: ref.data,
      frames: ref.shape[1]!,
    }, 64);
    assert.ok(d.max <= TOLERANCE, `${name}: max abs error ${d.max}`);
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("featurize --format jsonl streams a header and one record per file, matching torchaudio within 1e-4", async () => {
  const clips = clipFixtures().filter((c) =>
    ["long_13s.flac", "mono_8k.wav", "short_300.wav"].includes(c.file)
  );
  const r = await runCli([
    "featurize",
    "--format",
    "jsonl",
    "--quiet",
    ...clips.map((c) => fixture("audio", c.file)),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1 + clips.length);
  const header = JSON.parse(lines[0]!).header;
  assert.equal(header.mel.nMels, 64);
  assert.equal(header.mel.hop, 160);
  assert.match(header.version, /^\d+\.\d+\.\d+/);
  const records = parseFeaturesJsonl(r.stdout);
  for (const [i, clip] of clips.entries()) {
    const rec = records[i]!;
    assert.equal(rec.path, fixture("audio", clip.file));
    const ref = sameInputFeatures(clip);
    assert.deepEqual([rec.features.nMels, rec.features.frames], ref.shape);
    const d = frameDiff(rec.features, { data: ref.data, frames: ref.shape[1]! }, 64);
    assert.ok(d.max <= TOLERANCE, `${clip.file}: max abs error ${d.max}`);
  }
});

Deno.test("each bad input is one stderr line naming it; the others are written; exit 1; no partial output", async (t) => {
  const work = await Deno.makeTempDir({ prefix: "atst_bad_" });
  const out = join(work, "out");
  const locked = join(work, "locked");
  await Deno.mkdir(locked);
  await Deno.writeTextFile(join(locked, "x.wav"), "x");
  const wrapper = permissionsEnforcedWrapper();
  if (wrapper !== null) await Deno.chmod(locked, 0o000);
  const bad: [string, RegExp][] = [
    [fixture("audio", "bad", "empty.wav"), /file is empty/],
    [fixture("audio", "bad", "text.wav"), /not an audio file \(it contains text\)/],
    [fixture("audio", "bad", "garbage.mp3"), /not an audio file/],
    [fixture("audio", "bad", "truncated.wav"), /truncated or corrupt/],
    [fixture("audio", "bad", "truncated_stream.flac"), /truncated or corrupt/],
    [fixture("audio", "bad", "corrupt.m4a"), /corrupt or truncated/],
    [fixture("audio", "bad", "unsupported.au"), /unsupported audio format/],
    [join(work, "missing.wav"), /no such file or directory/],
  ];
  if (wrapper !== null) bad.push([locked, /cannot list folder: permission denied/]);
  const good = [fixture("audio", "short_700.wav"), fixture("audio", "mono_8k.wav")];
  try {
    const r = await runCli(
      ["featurize", good[0]!, ...bad.map(([p]) => p), good[1]!, "--out", out],
      { wrapper: wrapper ?? [] },
    );
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("featurize: "));
    assert.equal(lines.length, bad.length, r.stderr);
    for (const [path, reason] of bad) {
      await t.step(path.split("/").pop()!, () => {
        const line = lines.find((l) => l.includes(`'${path}'`));
        assert.ok(line, `no error line for ${path}`);
        assert.match(line, reason);
      });
    }
    assert.match(r.stderr, /featurize: 2 written, \d+ failed/);
    assert.deepEqual(await listTree(out), ["mono_8k.npy", "short_700.npy"]);
  } finally {
    await Deno.chmod(locked, 0o755);
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("--skip-existing keeps existing outputs; without it they are replaced", async () => {
  const out = await Deno.makeTempDir({ prefix: "atst_skip_" });
  const input = fixture("audio", "short_300.wav");
  await Deno.writeTextFile(join(out, "short_300.npy"), "old");
  const skip = await runCli(["featurize", input, "--out", out, "--skip-existing"]);
  assert.equal(skip.code, 0, skip.stderr);
  assert.match(skip.stderr, /0 written, 1 skipped/);
  assert.equal(await Deno.readTextFile(join(out, "short_300.npy")), "old");
  const again = await runCli(["featurize", input, "--out", out, "--quiet"]);
  assert.equal(again.code, 0);
  assert.equal(again.stderr, "");
  assert.deepEqual((await readNpy(join(out, "short_300.npy"))).shape, [64, 4]);
  assert.deepEqual(await listTree(out), ["short_300.npy"]); // no temporary files left
  await Deno.remove(out, { recursive: true });
});

Deno.test("paths can come from stdin with '-' and be split with --shard", async () => {
  const out = await Deno.makeTempDir({ prefix: "atst_stdin_" });
  const files = ["short_300.wav", "short_512.wav", "short_700.wav"].map((f) => fixture("audio", f));
  const r = await runCli(["featurize", "-", "--out", out, "--shard", "2/2"], {
    stdin: files.join("\n") + "\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await listTree(out), ["short_512.npy"]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("usage errors exit 2 with one line; --help exits 0 with examples", async () => {
  for (
    const args of [
      ["featurize", "--bogus", "x.wav"],
      ["featurize", "x.wav"],
      ["featurize", "--out", "o"],
      ["featurize", "x.wav", "--format", "csv", "--out", "o"],
      ["featurize", "x.wav", "--out", "o", "--shard", "3/2"],
    ]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  }
  const help = await runCli(["featurize", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:/);
  assert.match(help.stdout, /--format/);
});

Deno.test("--jobs 2 gives the same records in the same order and the same errors as one thread", async () => {
  const inputs = [
    fixture("audio", "stereo_44k.wav"),
    fixture("audio", "bad", "text.wav"),
    fixture("audio", "codecs", "mp3.mp3"),
    fixture("audio", "short_300.wav"),
    fixture("audio", "bad", "empty.wav"),
    fixture("audio", "codecs", "opus.opus"),
  ];
  const one = await runCli(["featurize", "--format", "jsonl", "--quiet", ...inputs]);
  const two = await runCli(["featurize", "--format", "jsonl", "--quiet", "--jobs", "2", ...inputs]);
  assert.equal(one.code, 1);
  assert.equal(two.code, 1);
  assert.equal(two.stdout, one.stdout);
  assert.equal(two.stderr, one.stderr);
  assert.deepEqual(
    parseFeaturesJsonl(two.stdout).map((r) => r.path),
    [0, 2, 3, 5].map((i) => inputs[i]),
  );
  assert.equal(two.stderr.trimEnd().split("\n").length, 2);
});

Deno.test("default jobs: a few files stay on one thread, a corpus gets one worker per core", async (t) => {
  const { defaultJobs, FILES_PER_WORKER } = await import("../lib/features/featurize_pool.ts");
  await t.step("fewer than two workers' worth of files is one thread", () => {
    assert.equal(defaultJobs(0, 8), 1);
    assert.equal(defaultJobs(7, 8), 1);
    assert.equal(defaultJobs(2 * FILES_PER_WORKER - 1, 8), 1);
  });
  await t.step("one worker per FILES_PER_WORKER files, capped at the cores", () => {
    assert.equal(defaultJobs(2 * FILES_PER_WORKER, 8), 2);
    assert.equal(defaultJobs(200, 8), 4);
    assert.equal(defaultJobs(200, 2), 2);
    assert.equal(defaultJobs(100_000, 8), 8);
  });
});
