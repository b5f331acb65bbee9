import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../lib/errors.ts";
import { decodeToAudio, openAudio } from "../lib/audio/load.ts";
import { openWav } from "../lib/audio/wav_stream.ts";
import { fixture } from "./_helpers.ts";

/** A WAV file's sample coding, as the tests write it. */
interface Coding {
  tag: 1 | 3 | 6;
  bits: number;
  extensible?: boolean;
}

const CODINGS: Record<string, Coding> = {
  u8: { tag: 1, bits: 8 },
  s16: { tag: 1, bits: 16 },
  s24: { tag: 1, bits: 24 },
  s32: { tag: 1, bits: 32 },
  f32: { tag: 3, bits: 32 },
  f64: { tag: 3, bits: 64 },
  "extensible s24": { tag: 1, bits: 24, extensible: true },
  "extensible f32": { tag: 3, bits: 32, extensible: true },
};

/** Deterministic full-scale content: a chirp plus a little noise, both ends touched. */
function signal(frames: number, channels: number): Float64Array {
  const x = new Float64Array(frames * channels);
  let seed = 12345;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const noise = seed / 2147483648 - 0.5;
      x[i * channels + c] = 0.8 * Math.sin(0.0003 * i * i + c) + 0.4 * noise;
    }
  }
  x[0] = 1;
  if (x.length > 1) x[1] = -1;
  return x;
}

/** The sample bytes of `x` (values in [-1, 1]) in `coding`, interleaved. */
function encode(x: Float64Array, coding: Coding): Uint8Array {
  const w = coding.bits / 8, out = new Uint8Array(x.length * w);
  const dv = new DataView(out.buffer);
  x.forEach((v, i) => {
    const p = i * w, full = 2 ** (coding.bits - 1);
    const k = Math.max(-full, Math.min(full - 1, Math.round(v * full)));
    if (coding.tag === 3) {
      if (coding.bits === 32) dv.setFloat32(p, v, true);
      else dv.setFloat64(p, v + 1e-12 * i, true); // not all float32-exact
    } else if (coding.bits === 8) out[p] = k + 128;
    else if (coding.bits === 16) dv.setInt16(p, k, true);
    else if (coding.bits === 24) {
      out[p] = k & 0xff;
      out[p + 1] = (k >> 8) & 0xff;
      out[p + 2] = (k >> 16) & 0xff;
    } else dv.setInt32(p, k, true);
  });
  return out;
}

/** A WAV file of `body`; `dataSize` overrides the declared data size. */
function wavBytes(
  body: Uint8Array,
  coding: Coding,
  rate: number,
  channels: number,
  opts: { dataSize?: number; extraChunk?: number } = {},
): Uint8Array {
  const fmtSize = coding.extensible ? 40 : 16;
  const extra = opts.extraChunk === undefined ? 0 : 8 + opts.extraChunk;
  const head = 12 + 8 + fmtSize + extra + 8;
  const out = new Uint8Array(head + body.length);
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  const block = channels * coding.bits / 8;
  tag(0, "RIFF");
  dv.setUint32(4, out.length - 8, true);
  tag(8, "WAVEfmt ");
  dv.setUint32(16, fmtSize, true);
  dv.setUint16(20, coding.extensible ? 0xfffe : coding.tag, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * block, true);
  dv.setUint16(32, block, true);
  dv.setUint16(34, coding.bits, true);
  if (coding.extensible) {
    dv.setUint16(36, 22, true);
    dv.setUint16(38, coding.bits, true);
    dv.setUint16(44, coding.tag, true); // SubFormat GUID starts with the format tag
  }
  let p = 20 + fmtSize;
  if (opts.extraChunk !== undefined) {
    tag(p, "LIST");
    dv.setUint32(p + 4, opts.extraChunk, true);
    p += extra;
  }
  tag(p, "data");
  dv.setUint32(p + 4, opts.dataSize ?? body.length, true);
  out.set(body, p + 8);
  return out;
}

const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

/** Asserts two sample arrays are equal bit for bit. */
function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const a = bits(got), b = bits(want);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${what}: sample ${i} is ${got[i]}, whole-file ${want[i]}`);
  }
}

async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.wav");
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Streamed reads of `bytes` against the whole-file decoder: all at once, in odd chunks, ranges. */
async function assertStreamsLikeWhole(bytes: Uint8Array, what: string): Promise<void> {
  const whole = (await decodeToAudio(bytes, "a.wav")).samples;
  await withFile(bytes, async (path) => {
    const src = await openAudio(path);
    assert.ok(src.streamed, `${what}: streamed`);
    assertSameBits(src.read(0, src.length), whole, `${what}, one read`);
    // Sizes that split the 441- and 160-sample blocks of 44.1 kHz anywhere; single samples
    // over the first 0.02 s only (each read opens the file).
    for (const [size, upTo] of [[1, 320], [159, Infinity], [161, Infinity], [7919, Infinity]]) {
      const end = Math.min(src.length, upTo!);
      const joined = new Float32Array(end);
      for (let s = 0; s < end; s += size!) joined.set(src.read(s, Math.min(end, s + size!)), s);
      assertSameBits(joined, whole.subarray(0, end), `${what}, chunks of ${size}`);
    }
    const mid = Math.floor(src.length / 3), to = Math.min(src.length, mid + 17);
    assertSameBits(src.read(mid, to), whole.subarray(mid, to), `${what}, a range`);
  });
}

Deno.test("streamed WAV samples equal the whole-file decode bit for bit", async (t) => {
  const rates = [44100, 48000, 22050, 32000, 16000];
  let r = 0;
  for (const [name, coding] of Object.entries(CODINGS)) {
    for (const channels of [1, 2, 3]) {
      const rate = rates[r++ % rates.length]!;
      await t.step(`${name}, ${channels} channel(s), ${rate} Hz`, async () => {
        const frames = Math.round(rate * 0.7) + 3;
        const body = encode(signal(frames, channels), coding);
        await assertStreamsLikeWhole(wavBytes(body, coding, rate, channels), name);
      });
    }
  }
  await t.step("every rate of the list for 16-bit stereo, and a co-prime one", async () => {
    for (const rate of [...rates, 44101, 8000]) {
      const body = encode(signal(Math.round(rate * 0.4), 2), CODINGS.s16!);
      await assertStreamsLikeWhole(wavBytes(body, CODINGS.s16!, rate, 2), `s16 ${rate} Hz`);
    }
  });
  await t.step("every 16-bit code", async () => {
    const x = Float64Array.from({ length: 65536 }, (_, i) => (i - 32768) / 32768);
    await assertStreamsLikeWhole(wavBytes(encode(x, CODINGS.s16!), CODINGS.s16!, 16000, 1), "s16");
  });
  await t.step("a chunk before the data", async () => {
    const body = encode(signal(5000, 2), CODINGS.s24!);
    await assertStreamsLikeWhole(
      wavBytes(body, CODINGS.s24!, 48000, 2, { extraChunk: 30 }),
      "LIST chunk",
    );
  });
  await t.step("the committed codec fixtures", async () => {
    for (const name of ["wav_u8", "wav_s16", "wav_s24", "wav_s32", "wav_f32", "wav_f64"]) {
      await assertStreamsLikeWhole(
        await Deno.readFile(fixture("audio", "codecs", `${name}.wav`)),
        name,
      );
    }
  });
});

Deno.test("tiny and cut-short WAV files stream like the whole-file decode", async (t) => {
  const coding = CODINGS.s16!;
  for (const frames of [1, 2, 5, 440, 442]) {
    await t.step(`${frames} frame(s) at 44.1 kHz`, async () => {
      const body = encode(signal(frames, 2), coding);
      await assertStreamsLikeWhole(wavBytes(body, coding, 44100, 2), `${frames} frames`);
    });
  }
  await t.step("data cut short of its declared size, mid-frame", async () => {
    const body = encode(signal(3000, 2), coding).subarray(0, 4001 * 2 + 1);
    const bytes = wavBytes(body, coding, 22050, 2, { dataSize: 3000 * 4 });
    await assertStreamsLikeWhole(bytes, "cut short");
  });
  await t.step("data size left as a streaming placeholder (0 or 0xFFFFFFFF)", async () => {
    const body = encode(signal(3000, 1), coding);
    for (const dataSize of [0, 0xffffffff]) {
      await assertStreamsLikeWhole(wavBytes(body, coding, 48000, 1, { dataSize }), `${dataSize}`);
    }
  });
  await t.step("bytes after the declared data are ignored", async () => {
    const body = encode(signal(3000, 1), coding);
    await assertStreamsLikeWhole(wavBytes(body, coding, 32000, 1, { dataSize: 2000 }), "tail");
  });
});

Deno.test("WAV files the stream does not take give the whole-file path's result or error", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["no whole frame", wavBytes(new Uint8Array(3), CODINGS.s16!, 16000, 2)],
    ["header only", wavBytes(new Uint8Array(0), CODINGS.s16!, 16000, 1)],
    [
      "cut inside the header",
      wavBytes(new Uint8Array(100), CODINGS.s16!, 16000, 1).subarray(0, 30),
    ],
    ["A-law", wavBytes(new Uint8Array(200).fill(0x55), { tag: 6, bits: 8 }, 8000, 1)],
    [
      "NaN in float",
      wavBytes(new Uint8Array(new Float32Array([0.5, NaN, 0.1]).buffer), CODINGS.f32!, 16000, 1),
    ],
    ["fixture truncated.wav", await Deno.readFile(fixture("audio", "bad", "truncated.wav"))],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, async () => {
      const whole = await decodeToAudio(bytes, "x").then((a) => a.samples, (e) => e);
      await withFile(bytes, async (path) => {
        const got = await openAudio(path).then((s) => s.read(0, s.length), (e) => e);
        if (whole instanceof Float32Array) {
          assert.ok(got instanceof Float32Array, `decoded: ${got}`);
          assertSameBits(got, whole, name);
        } else {
          assert.ok(got instanceof InputError, `expected an InputError, got ${got}`);
          assert.equal(got.path, path);
          assert.equal(got.reason, (whole as InputError).reason);
        }
      });
    });
  }
  await t.step("a file shortened after it was opened fails naming it", async () => {
    const body = encode(signal(20000, 1), CODINGS.s16!);
    await withFile(wavBytes(body, CODINGS.s16!, 16000, 1), async (path) => {
      const src = await openAudio(path);
      await Deno.truncate(path, 1000);
      assert.throws(
        () => src.read(0, src.length),
        (e) => e instanceof InputError && e.path === path,
      );
    });
  });
  await t.step("openWav says null for what it leaves to the decoder", async () => {
    await withFile(cases[3]![1], (path) => Promise.resolve(assert.equal(openWav(path), null)));
  });
});
