import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { decodeToAudio, LONG_SAMPLES } from "../lib/audio/load.ts";
import { logMel } from "../lib/features/mel.ts";
import { readNpy } from "../lib/io/npy.ts";
import { PEAK_RSS_ENV } from "../lib/io/peak_memory.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { collectFrames, embedFiles, embedSettings } from "../lib/embed/embed_files.ts";
import { embedClips, embedFrames } from "../lib/embed/pooling.ts";
import { sceneEmbedding, timestampEmbedding } from "../lib/embed/frame_pooling.ts";
import { StreamedLogMel } from "../lib/embed/_stream_mel.ts";
import { concatChunks, fixture, ROOT, runCli } from "./_helpers.ts";
import { writeLongWav } from "./_long_wav.ts";

const CLIP = fixture("model", "a.ckpt");
const FRAME = fixture("frame", "fa.ckpt");
const MB = 1024 * 1024;

await useBackend("wasm", { quiet: true });

Deno.test("a WAV past two minutes embeds by range with the same bits as decoded whole", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_long_" });
  try {
    const path = join(dir, "long.wav");
    await writeLongWav(path, { seconds: 125, rate: 22050, channels: 2 });
    // Before streaming: audio-decode on the whole file's bytes, log-mel of all samples.
    const whole = (await decodeToAudio(await Deno.readFile(path), path)).samples;
    assert.ok(whole.length > LONG_SAMPLES);
    const file = { path, rel: "long.wav" };
    const before = tf.memory().numTensors;
    await t.step("ATST-Clip frames: streamed, equal to embedFrames on all features", async () => {
      const model = await loadEncoder(CLIP);
      const s = embedSettings(model, { mode: "frames" });
      let got: Float32Array | null = null;
      await embedFiles(model, [file], { mode: "frames", batch: 4 }, async (r) => {
        assert.ok("stream" in r, "a long file's frames come as a stream");
        got = (await collectFrames(r.stream)).data;
      });
      const [want] = await embedFrames(model.encoder, [logMel(whole, model.meta.mel)], {
        chunkFrames: s.chunkFrames,
        blocks: s.blocks,
        batch: 4,
      });
      assert.deepEqual(got, want!.data);
      model.encoder.dispose();
    });
    await t.step("ATST-Clip clips: only the centre crop is read, same bits", async () => {
      const model = await loadEncoder(CLIP);
      const s = embedSettings(model, {});
      let got: Float32Array | null = null;
      await embedFiles(model, [file], {}, (r) => void (got = "clip" in r ? r.clip : null));
      const keep = 12 * 16000, start = Math.floor((whole.length - keep) / 2);
      const crop = logMel(whole.subarray(start, start + keep), model.meta.mel);
      const [want] = await embedClips(model.encoder, [crop], { ...s, batch: 8 });
      assert.deepEqual(got, want);
      model.encoder.dispose();
    });
    await t.step("ATST-Frame timestamp and scene embeddings: same bits", async () => {
      const model = await loadEncoder(FRAME);
      const opts = { blocks: 12, batch: 8 };
      const mem = () => new StreamedLogMel(whole, model.meta.mel);
      const results: Record<string, Float32Array> = {};
      for (const mode of ["frames", "clip"] as const) {
        await embedFiles(model, [file], { mode }, async (r) => {
          if ("stream" in r) results.frames = (await collectFrames(r.stream)).data;
          else if ("clip" in r) results.clip = r.clip;
        });
      }
      assert.deepEqual(
        results.frames,
        await concatChunks(timestampEmbedding(model.encoder, mem(), opts)),
      );
      assert.deepEqual(results.clip, await sceneEmbedding(model.encoder, mem(), opts));
      model.encoder.dispose();
    });
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Peak resident memory of one `atst` run (the child writes it: lib/io/peak_memory.ts). */
async function peakOf(dir: string, args: string[]): Promise<number> {
  const report = join(dir, "peak.json");
  const r = await runCli(args, { env: { [PEAK_RSS_ENV]: report } });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await Deno.readTextFile(report)).peakRssBytes;
}

/** Peak resident memory of a cache build of `wav` alone. */
async function cachePeak(dir: string, wav: string): Promise<{ peak: number; samples: number[] }> {
  const report = join(dir, "peak.json");
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tests", "_cache_build_child.ts"), join(dir, "cache"), wav],
    cwd: ROOT,
    env: { [PEAK_RSS_ENV]: report },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  await Deno.remove(join(dir, "cache"), { recursive: true });
  const samples = JSON.parse(new TextDecoder().decode(out.stdout));
  return { peak: JSON.parse(await Deno.readTextFile(report)).peakRssBytes, samples };
}

Deno.test({
  name: "a 10-minute 44.1 kHz stereo WAV embeds and caches in about the memory of a 150 s one",
  ignore: Deno.build.os !== "linux", // the peak is read from /proc
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_long_" });
  try {
    const wav = { rate: 44100, channels: 2 };
    const long = join(dir, "long.wav"), ref = join(dir, "ref.wav");
    // 106 MB of 16-bit samples: decoded whole (bytes, float channels, the downmix, 16 kHz)
    // that is about 4.4 times as much again; streamed, it is a few 10-30 s chunks, plus
    // the garbage V8 lets pile up before it collects (up to about 50 MB seen here).
    const bytes = await writeLongWav(long, { seconds: 600, ...wav });
    await writeLongWav(ref, { seconds: 150, ...wav });
    // Same code paths, different lengths: both are past LONG_SAMPLES.
    const bound = 90 * MB;
    assert.ok(bound < 0.9 * bytes);
    /** One command per output format; `check` looks at the long file's output. */
    const runs: {
      name: string;
      ext: string;
      args: (wav: string, out: string) => string[];
      check: (out: string) => Promise<void>;
    }[] = [
      {
        name: "ATST-Frame --frames, npy",
        ext: "",
        args: (w, out) => ["embed", "--model", FRAME, "--frames", w, "--out", out],
        check: async (out) => {
          const arr = await readNpy(join(out, "long.npy"));
          assert.ok(arr.shape[0]! > 600 * 25 - 500, `${arr.shape[0]} tokens`);
        },
      },
      {
        name: "ATST-Clip --frames, csv",
        ext: ".csv",
        args: (
          w,
          out,
        ) => ["embed", "--model", CLIP, "--frames", w, "--format", "csv", "--out", out],
        check: async (out) => {
          const rows = (await Deno.readTextFile(out)).trimEnd().split("\n").length - 1;
          assert.ok(rows > 600 * 25 - 500, `${rows} rows`);
        },
      },
      {
        name: "ATST-Clip clips, jsonl",
        ext: ".jsonl",
        args: (w, out) => ["embed", "--model", CLIP, w, "--format", "jsonl", "--out", out],
        check: async (out) => {
          assert.equal((await Deno.readTextFile(out)).trimEnd().split("\n").length, 2);
        },
      },
    ];
    for (const { name, ext, args, check } of runs) {
      await t.step(name, async () => {
        const peaks: number[] = [];
        for (const [k, w] of [long, ref].entries()) {
          const out = join(dir, `out${ext}`);
          peaks.push(await peakOf(dir, [...args(w, out), "--quiet", "--backend", "wasm"]));
          if (k === 0) await check(out);
          await Deno.remove(out, { recursive: true });
        }
        const [pl, pr] = peaks as [number, number];
        console.log(
          `${name}: peak RSS ${(pl / MB).toFixed(0)} MB (10 min), ${
            (pr / MB).toFixed(0)
          } MB (150 s)`,
        );
        assert.ok(pl - pr < bound, `10 min peaks ${((pl - pr) / MB).toFixed(0)} MB above 150 s`);
      });
    }
    await t.step("the cache build", async () => {
      const l = await cachePeak(dir, long), r = await cachePeak(dir, ref);
      assert.deepEqual(l.samples, [600 * 16000]);
      console.log(
        `cache build: peak RSS ${(l.peak / MB).toFixed(0)} MB (10 min), ${
          (r.peak / MB).toFixed(0)
        } MB (150 s)`,
      );
      assert.ok(
        l.peak - r.peak < bound,
        `10 min peaks ${((l.peak - r.peak) / MB).toFixed(0)} MB above 150 s`,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
