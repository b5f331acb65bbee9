import assert from "node:assert/strict";
import { clipFixtures, fixture, frameDiff, readFixtureNpy, refFeatures } from "./_audio_helpers.ts";
import { InputError } from "../lib/errors.ts";
import { decodeBytes, downmix } from "../lib/audio/decode.ts";
import { decodeToAudio, loadAudio, toMono16k } from "../lib/audio/load.ts";
import { intScalingOf } from "../lib/audio/pcm_scale.ts";
import { resample } from "../lib/audio/resample.ts";
import { logMel } from "../lib/features/mel.ts";
import { floatWav } from "./_helpers.ts";

const CODECS = [
  "wav_u8.wav",
  "wav_s16.wav",
  "wav_s24.wav",
  "wav_s32.wav",
  "wav_f32.wav",
  "wav_f64.wav",
  "aiff.aiff",
  "flac.flac",
  "mp3.mp3",
  "vorbis.ogg",
  "opus.opus",
  "aac.m4a",
  "webm.webm",
];

Deno.test("every codec fixture decodes under Deno to 0.4 s of non-silent 16 kHz audio", async (t) => {
  const manifest = new Map(clipFixtures().map((c) => [c.file, c]));
  for (const name of CODECS) {
    await t.step(name, async () => {
      const clip = manifest.get(`codecs/${name}`)!;
      const audio = await loadAudio(fixture("audio", "codecs", name));
      assert.equal(audio.sourceRate, clip.sourceRate, "source rate (as torchaudio reads it)");
      assert.equal(audio.channels, clip.channels);
      assert.equal(audio.samples.length, 6400);
      let peak = 0;
      for (const v of audio.samples) peak = Math.max(peak, Math.abs(v));
      assert.ok(peak > 0.3 && peak < 1.5, `peak ${peak}`);
    });
  }
});

Deno.test("lossless files resample to torchaudio's 16 kHz samples within 1e-6", async (t) => {
  for (const clip of clipFixtures().filter((c) => c.resample)) {
    await t.step(`${clip.file} (${clip.sourceRate} Hz, ${clip.channels} ch)`, async () => {
      const { channels, sampleRate } = await decodeBytes(
        await Deno.readFile(fixture("audio", clip.file)),
      );
      const ours = toMono16k(channels, sampleRate);
      const ref = readFixtureNpy("features", "resample", `${clip.key}.npy`).data;
      assert.equal(ours.length, ref.length);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ours[i]! - ref[i]!));
      assert.ok(max <= 1e-6, `max abs difference ${max}`);
    });
  }
});

Deno.test("end to end (our decoder and resampler) matches torchaudio on the raw files", async (t) => {
  // Lossless and MP3 decoders agree with torchaudio's (ffmpeg) to float rounding, so
  // the spec tolerance holds end to end. Vorbis differs slightly; Opus and AAC decoders
  // differ more (noise substitution is random; torchaudio keeps AAC padding), so
  // those get a mean-error bound that still catches a wrong rate, channel or offset.
  const loose: Record<string, { max?: number; mean: number }> = {
    "codecs/vorbis.ogg": { max: 5e-3, mean: 1e-4 },
    "codecs/opus.opus": { mean: 1e-2 },
    "codecs/webm.webm": { mean: 1e-2 },
    "codecs/aac.m4a": { mean: 1e-2 },
  };
  for (const clip of clipFixtures()) {
    await t.step(clip.file, async () => {
      const ours = logMel((await loadAudio(fixture("audio", clip.file))).samples);
      const ref = refFeatures(clip);
      const d = frameDiff(ours, { data: ref.data, frames: ref.shape[1]! }, 64);
      const bound = loose[clip.file] ?? { max: 1e-4, mean: 1e-4 };
      assert.ok(
        Math.abs(ours.frames - ref.shape[1]!) <= 1,
        `frames ${ours.frames} vs ${ref.shape[1]}`,
      );
      if (bound.max !== undefined) assert.ok(d.max <= bound.max, `max abs error ${d.max}`);
      assert.ok(d.mean <= bound.mean, `mean abs error ${d.mean}`);
    });
  }
});

Deno.test("bad inputs raise InputError naming the file and a clear reason", async (t) => {
  const cases: [string, RegExp][] = [
    ["empty.wav", /file is empty/],
    ["text.wav", /not an audio file \(it contains text\)/],
    ["garbage.mp3", /not an audio file or an unsupported format/],
    ["truncated.wav", /no audio samples/],
    ["truncated_stream.flac", /no audio samples/],
    ["corrupt.m4a", /corrupt or truncated/],
    ["unsupported.au", /unsupported audio format \(Sun\/NeXT \.au\)/],
    ["does_not_exist.wav", /no such file or directory/],
  ];
  for (const [name, reason] of cases) {
    await t.step(name, async () => {
      const path = fixture("audio", "bad", name);
      const err = await loadAudio(path).then(() => null, (e) => e);
      assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
      assert.equal(err.path, path);
      assert.match(err.reason, reason);
      assert.ok(!err.message.includes("\n"), "one line");
    });
  }
  await t.step("a folder", async () => {
    const err = await loadAudio(fixture("audio")).then(() => null, (e) => e);
    assert.ok(err instanceof InputError);
  });
});

Deno.test("float WAV with NaN samples is rejected; valid float WAV passes through exactly", async () => {
  const ok = await decodeToAudio(floatWav(new Float32Array([0.5, -0.25, 0.125])), "ok.wav");
  assert.deepEqual(Array.from(ok.samples), [0.5, -0.25, 0.125]);
  await assert.rejects(
    decodeToAudio(floatWav(new Float32Array([0.5, NaN, 0.1])), "nan.wav"),
    /NaN or infinite/,
  );
});

Deno.test("integer PCM is scaled k / 2^(b-1) as torchaudio does (bit depth read from the header)", async () => {
  assert.deepEqual(intScalingOf(await Deno.readFile(fixture("audio", "codecs", "wav_s24.wav"))), {
    bits: 24,
    divided: "positive",
  });
  assert.deepEqual(intScalingOf(await Deno.readFile(fixture("audio", "codecs", "flac.flac"))), {
    bits: 16,
    divided: "all",
  });
  assert.equal(intScalingOf(await Deno.readFile(fixture("audio", "codecs", "wav_f32.wav"))), null);
  const { channels } = await decodeBytes(await Deno.readFile(fixture("audio", "mono_8k.wav")));
  for (const v of channels[0]!) assert.ok(Number.isInteger(v * 32768), `${v} is not k/32768`);
});

Deno.test("downmix averages channels", () => {
  const mono = downmix([Float32Array.of(1, 0.5, -1), Float32Array.of(0, 0.5, 1)]);
  assert.deepEqual(Array.from(mono), [0.5, 0.5, 0]);
});

Deno.test("resample gives the same bits for an output at the signal's edge as inside it", () => {
  // Zeros before (a whole number of input steps) and after the signal turn its edge outputs,
  // which skip the taps outside it, into interior ones, which multiply those taps by zero.
  for (const from of [22050, 32000, 44100, 48000, 44101]) {
    const to = 16000, g = gcdOf(from, to), orig = from / g, next = to / g;
    const steps = Math.ceil(200 / orig);
    for (const n of [3, 150, 1001, 4410]) {
      const x = Float32Array.from(
        { length: n },
        (_, i) => Math.sin(i * 0.37) * 0.5 + (i % 7) * 0.01,
      );
      const padded = new Float32Array(steps * orig + n + 400);
      padded.set(x, steps * orig);
      const alone = resample(x, from, to);
      const inside = resample(padded, from, to).subarray(steps * next, steps * next + alone.length);
      assert.deepEqual(Array.from(inside), Array.from(alone), `${from} Hz, ${n} samples`);
    }
  }
});

function gcdOf(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

Deno.test("resample keeps a low tone and has torchaudio's output length, also for co-prime rates", () => {
  for (const from of [8000, 22050, 44100, 44101, 48000]) {
    const n = Math.round(from * 0.25);
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / from));
    const y = resample(x, from, 16000);
    assert.equal(y.length, Math.ceil((16000 * n) / from));
    // Away from the edges the output is the same 440 Hz sine sampled at 16 kHz.
    let err = 0;
    for (let i = 200; i < y.length - 200; i++) {
      err = Math.max(err, Math.abs(y[i]! - Math.sin((2 * Math.PI * 440 * i) / 16000)));
    }
    assert.ok(err < 2e-3, `${from} Hz: max error ${err}`);
  }
  const same = new Float32Array(10);
  assert.equal(resample(same, 16000, 16000), same);
});
