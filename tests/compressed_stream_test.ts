import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../lib/errors.ts";
import {
  decodeLong,
  decodeToAudio,
  loadAudio,
  LONG_COMPRESSED_BYTES,
  LONG_SAMPLES,
  longCompressed,
  openAudio,
  sequentialChunks,
} from "../lib/audio/load.ts";
import { decodeStream, streamHeadOf } from "../lib/audio/compressed_stream.ts";
import { concatChunks, fixture } from "./_helpers.ts";

const STREAMED: [string, string][] = [
  ["codecs/flac.flac", "flac"],
  ["long_13s.flac", "flac"],
  ["codecs/mp3.mp3", "mp3"],
  ["codecs/vorbis.ogg", "oga"],
  ["codecs/opus.opus", "opus"],
];

Deno.test("FLAC, MP3, Vorbis and Opus stream with the whole-file path's bits at any block size", async (t) => {
  for (const [name, format] of STREAMED) {
    await t.step(name, async () => {
      const path = fixture("audio", name);
      const head = streamHeadOf(path);
      assert.equal(head?.format, format);
      const whole = (await decodeToAudio(await Deno.readFile(path), path)).samples;
      if (head!.length !== null) assert.equal(head!.length, whole.length, "STREAMINFO length");
      // 100-byte blocks cut FLAC frame headers often: the case audio-decode's parser gets wrong.
      for (const block of [100, 777, 4096, 1 << 20]) {
        const got = await concatChunks(decodeStream(path, head!.format, block));
        assert.equal(got.length, whole.length, `${block}-byte blocks: length`);
        assert.deepEqual(got, whole, `${block}-byte blocks`);
      }
      assert.deepEqual(await concatChunks(sequentialChunks(path)), whole);
    });
  }
});

Deno.test("formats that are not streamed are read by sequentialChunks through the whole-file path", async () => {
  for (const name of ["codecs/aac.m4a", "codecs/webm.webm", "codecs/aiff.aiff", "stereo_44k.wav"]) {
    const path = fixture("audio", name);
    assert.equal(streamHeadOf(path), null, name);
    const whole = (await loadAudio(path)).samples;
    assert.deepEqual(await concatChunks(sequentialChunks(path, 1000)), whole, name);
  }
});

Deno.test("a FLAC cut short streams the frames the whole-file path decodes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atst_cstream_" });
  try {
    const bytes = await Deno.readFile(fixture("audio", "long_13s.flac"));
    const path = join(dir, "cut.flac");
    await Deno.writeFile(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const whole = (await decodeToAudio(await Deno.readFile(path), path)).samples;
    assert.ok(whole.length > 0 && whole.length < 208000);
    assert.deepEqual(await concatChunks(decodeStream(path, "flac", 4096)), whole);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad compressed files fail with the whole-file path's one-line reason", async () => {
  const cases: [string, RegExp][] = [
    ["truncated_stream.flac", /no audio samples/],
    ["garbage.mp3", /not an audio file or an unsupported format/],
    ["corrupt.m4a", /corrupt or truncated/],
    ["does_not_exist.flac", /no such file or directory/],
  ];
  for (const [name, reason] of cases) {
    const path = fixture("audio", "bad", name);
    const err = await concatChunks(sequentialChunks(path)).then(() => null, (e) => e);
    assert.ok(err instanceof InputError, `${name}: ${err}`);
    assert.equal(err.path, path);
    assert.match(err.reason, reason);
    const before = await loadAudio(path).then(() => null, (e: InputError) => e.reason);
    assert.equal(err.reason, before, `${name}: same reason as loadAudio`);
  }
});

Deno.test("a long FLAC opens with the samples, rate and channels of the whole-file path", async () => {
  const path = fixture("audio", "long_125s_8k.flac");
  const head = longCompressed(path, LONG_SAMPLES);
  assert.equal(head?.format, "flac", "the fixture takes the in-order path");
  const whole = await decodeToAudio(await Deno.readFile(path), path);
  assert.ok(whole.samples.length > LONG_SAMPLES);
  const src = await openAudio(path);
  assert.equal(src.streamed, false);
  assert.equal(src.length, whole.samples.length);
  assert.equal(src.sourceRate, whole.sourceRate);
  assert.equal(src.channels, whole.channels);
  assert.deepEqual(src.read(0, src.length), whole.samples);
  assert.deepEqual(src.read(1_000_000, 1_000_100), whole.samples.subarray(1_000_000, 1_000_100));
  assert.deepEqual(await loadAudio(path), whole);
});

Deno.test("an MP3 of 4 MiB opens through the in-order decoder with the whole-file path's samples", async () => {
  // No long MP3 is committed: copies of the fixture's frames, one after another, are one stream.
  const one = await Deno.readFile(fixture("audio", "codecs", "mp3.mp3"));
  const copies = Math.ceil(LONG_COMPRESSED_BYTES / one.length);
  const bytes = new Uint8Array(copies * one.length);
  for (let i = 0; i < copies; i++) bytes.set(one, i * one.length);
  const dir = await Deno.makeTempDir({ prefix: "atst_mp3_" });
  try {
    const path = join(dir, "long.mp3");
    await Deno.writeFile(path, bytes);
    assert.equal(longCompressed(path, LONG_SAMPLES)?.format, "mp3", "it takes the in-order path");
    const whole = await decodeToAudio(bytes, path);
    const src = await openAudio(path);
    assert.equal(src.length, whole.samples.length);
    assert.equal(src.sourceRate, whole.sourceRate);
    assert.equal(src.channels, whole.channels);
    assert.deepEqual(src.read(0, src.length), whole.samples);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeLong gives every streamed codec's whole-file samples, rate and channels however it reserves", async (t) => {
  for (const [name, format] of STREAMED) {
    await t.step(name, async () => {
      const path = fixture("audio", name);
      const whole = await decodeToAudio(await Deno.readFile(path), path);
      const head = streamHeadOf(path)!;
      // The header's length, the file size's estimate, and a 1-sample reserve that must double.
      for (const length of [head.length, null, 1]) {
        const got = await decodeLong(path, { format: format as typeof head.format, length });
        assert.equal(got.sourceRate, whole.sourceRate, `reserve ${length}: rate`);
        assert.equal(got.channels, whole.channels, `reserve ${length}: channels`);
        assert.equal(got.samples.length, whole.samples.length, `reserve ${length}: length`);
        assert.deepEqual(got.samples, whole.samples, `reserve ${length}`);
      }
    });
  }
});

Deno.test("decodeLong fails with the whole-file path's one-line reason", async () => {
  for (const name of ["truncated_stream.flac", "does_not_exist.flac"]) {
    const path = fixture("audio", "bad", name);
    const err = await decodeLong(path, { format: "flac", length: 6400 }).then(() => null, (e) => e);
    assert.ok(err instanceof InputError, `${name}: ${err}`);
    assert.equal(err.path, path);
    const before = await loadAudio(path).then(() => null, (e: InputError) => e.reason);
    assert.ok(before !== null);
    assert.equal(err.reason, before, `${name}: same reason as loadAudio`);
  }
});
