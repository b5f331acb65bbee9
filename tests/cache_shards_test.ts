import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeToAudio, loadAudio, LONG_SAMPLES } from "../lib/audio/load.ts";
import { shardName, ShardWriter } from "../lib/train/cache_shards.ts";
import { prepareData } from "../lib/train/data.ts";
import { loadFile } from "../lib/features/featurize_pool.ts";
import { fixture } from "./_helpers.ts";
import { writeLongWav } from "./_long_wav.ts";

/** Six fixture recordings and one unreadable file: 7 inputs, one shard each. */
const FILES = [
  "long_13s.flac",
  "stereo_44k.wav",
  "mono_8k.wav",
  "bad/text.wav",
  "codecs/vorbis.ogg",
  "short_700.wav",
  "silence_16k.wav",
].map((f) => fixture("audio", f));

async function writeList(dir: string, files = FILES): Promise<string> {
  const list = join(dir, "list.txt");
  await Deno.writeTextFile(list, files.join("\n") + "\n");
  return `@${list}`;
}

const quiet = { warn: () => {} };

function stdinOf(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

Deno.test("the sharded cache holds every clip exactly as decoding it directly", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const warnings: string[] = [];
    const cache = join(dir, "cache");
    const data = await prepareData([await writeList(dir)], cache, {
      jobs: 2,
      warn: (m) => warnings.push(m),
    });
    await t.step("unreadable files are skipped and listed", () => {
      assert.equal(data.index.clips.length, 6);
      assert.deepEqual(data.index.skipped.map((s) => s.path), [FILES[3]]);
      assert.match(warnings.join("\n"), /skipping '.*text\.wav'/);
    });
    await t.step("the folder holds one index and shard files, nothing per clip", () => {
      const names = [...Deno.readDirSync(cache)].map((e) => e.name).sort();
      assert.deepEqual(names, [
        "index.json",
        ...[0, 1, 2, 4, 5, 6].map((k) => `shard-00000${k}.f32`),
      ]);
    });
    await t.step("every clip reads back bit for bit, whole and by crop", async () => {
      for (const [c, clip] of data.index.clips.entries()) {
        const direct = (await loadAudio(clip.path)).samples;
        assert.equal(data.clips.length(c), direct.length);
        assert.deepEqual(data.clips.read(c, 0, direct.length), direct, clip.path);
        const off = Math.floor(direct.length / 3), len = 4000;
        const want = new Float32Array(len);
        want.set(direct.subarray(off, off + len));
        assert.deepEqual(data.clips.read(c, off, len), want, `crop of ${clip.path}`);
      }
      const tail = data.clips.read(0, data.clips.length(0) - 10, 20);
      assert.deepEqual(tail.subarray(10), new Float32Array(10), "zero-padded past the end");
    });
    await t.step("the same inputs again reuse the cache without decoding", async () => {
      const again = await prepareData([await writeList(dir)], cache, quiet);
      assert.equal(again.built, false);
      assert.equal(again.decoded, 0);
      assert.deepEqual(again.index, data.index);
    });
    await t.step("other inputs rebuild it, with a warning", async () => {
      const said: string[] = [];
      const other = await prepareData([await writeList(dir, FILES.slice(0, 2))], cache, {
        warn: (m) => said.push(m),
      });
      assert.equal(other.built, true);
      assert.equal(other.index.clips.length, 2);
      assert.match(said.join("\n"), /built from other inputs; rebuilding it/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a build stopped after two shards resumes, decoding only the rest", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const list = await writeList(dir);
    const whole = await prepareData([list], join(dir, "whole"), { ...quiet, jobs: 2 });
    const cache = join(dir, "killed");
    await t.step("the first build stops when shard 1 is done", async () => {
      const stop = (k: number) => {
        if (k === 1) throw new Error("killed");
      };
      await assert.rejects(() => prepareData([list], cache, { ...quiet, jobs: 2, onShard: stop }));
      const names = [...Deno.readDirSync(cache)].map((e) => e.name);
      assert.ok(!names.includes("index.json"));
      assert.ok(names.includes("shard-000001.json"));
    });
    await t.step("the rerun decodes the other 5 files and writes the same index", async () => {
      const resumed = await prepareData([list], cache, { ...quiet, jobs: 2 });
      assert.equal(resumed.decoded, FILES.length - 2);
      assert.equal(
        await Deno.readTextFile(join(cache, "index.json")),
        await Deno.readTextFile(join(dir, "whole", "index.json")),
      );
      for (let c = 0; c < whole.index.clips.length; c++) {
        const n = whole.clips.length(c);
        assert.deepEqual(resumed.clips.read(c, 0, n), whole.clips.read(c, 0, n));
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`-` reads the file list from stdin, and other stdin is other inputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const byList = await prepareData([await writeList(dir)], join(dir, "a"), quiet);
    const cache = join(dir, "b");
    const stdin = stdinOf("# a comment\n" + FILES.join("\n") + "\n");
    const byStdin = await prepareData(["-"], cache, { ...quiet, jobs: 1, stdin });
    assert.deepEqual(byStdin.index.clips, byList.index.clips);
    const again = await prepareData(["-"], cache, { ...quiet, stdin: stdinOf(FILES.join("\n")) });
    assert.equal(again.built, false, "the same paths on stdin reuse the cache");
    const fewer = await prepareData(["-"], cache, { ...quiet, stdin: stdinOf(FILES[0]!) });
    assert.equal(fewer.built, true, "other paths on stdin rebuild it");
    assert.equal(fewer.index.clips.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every cached clip of `data` (three files) has the samples `loadAudio` gives, `long` those of `whole`. */
async function assertCachedAsDecoded(
  data: Awaited<ReturnType<typeof prepareData>>,
  long: string,
  whole: Float32Array,
): Promise<void> {
  assert.equal(data.index.clips.length, 3);
  for (const [c, clip] of data.index.clips.entries()) {
    const want = clip.path === long ? whole : (await loadAudio(clip.path)).samples;
    assert.equal(data.clips.length(c), want.length, clip.path);
    assert.deepEqual(data.clips.read(c, 0, want.length), want, clip.path);
  }
}

Deno.test("a WAV longer than two minutes goes into its shard a chunk at a time, as decoded whole", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const long = join(dir, "long.wav");
    await writeLongWav(long, { seconds: 150, rate: 22050, channels: 2 });
    // The reference: audio-decode on the whole file's bytes, as before streaming.
    const whole = (await decodeToAudio(await Deno.readFile(long), long)).samples;
    assert.ok(whole.length > LONG_SAMPLES, "the file is past the streaming threshold");
    const files = [fixture("audio", "short_700.wav"), long, fixture("audio", "mono_8k.wav")];
    for (const jobs of [1, 2]) {
      await t.step(`with ${jobs} decoding worker(s)`, async () => {
        const data = await prepareData([await writeList(dir, files)], join(dir, `c${jobs}`), {
          ...quiet,
          jobs,
        });
        await assertCachedAsDecoded(data, long, whole);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a FLAC longer than two minutes is decoded in order into its shard, as decoded whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const long = fixture("audio", "long_125s_8k.flac");
    const whole = (await decodeToAudio(await Deno.readFile(long), long)).samples;
    assert.ok(whole.length > LONG_SAMPLES, "the file is past the streaming threshold");
    const job = { path: long, output: "samples", streamAbove: LONG_SAMPLES } as const;
    assert.ok(
      "streamed" in await loadFile({ ...job, sequential: true }),
      "the cache build streams it",
    );
    assert.ok("samples" in await loadFile(job), "other readers still decode it whole");
    const files = [fixture("audio", "short_700.wav"), long, fixture("audio", "codecs/mp3.mp3")];
    const data = await prepareData([await writeList(dir, files)], join(dir, "c"), quiet);
    await assertCachedAsDecoded(data, long, whole);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a clip that fails part-way through its chunks leaves nothing in the shard", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cache_" });
  try {
    const w = new ShardWriter(dir, 0, 0, 3);
    await w.append(0, Float32Array.of(1, 2));
    const failing = function* () {
      yield Float32Array.of(9, 9, 9);
      throw new Error("read failed");
    };
    await assert.rejects(() => w.appendChunks(1, failing()), /read failed/);
    w.skip(1, "read failed");
    await w.appendChunks(2, [Float32Array.of(3), Float32Array.of(4, 5)]);
    const rec = await w.finish();
    assert.deepEqual(rec.clips, [
      { input: 0, offset: 0, samples: 2 },
      { input: 2, offset: 2, samples: 3 },
    ]);
    const bytes = await Deno.readFile(join(dir, shardName(0, ".f32")));
    assert.deepEqual(new Float32Array(bytes.buffer), Float32Array.of(1, 2, 3, 4, 5));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
