import assert from "node:assert/strict";
import { resample } from "../lib/audio/resample.ts";
import { ResampleStream, resampleWindow } from "../lib/audio/resample_stream.ts";

/** Deterministic noise plus a tone: every tap of the filter matters. */
function signal(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    x[i] = 0.5 * Math.sin(i * 0.013) + (seed / 2 ** 32 - 0.5) * 0.4;
  }
  return x;
}

/** Pushes `x` in pieces of the given sizes (cycled) and concatenates the outputs. */
function streamed(x: Float32Array, from: number, sizes: number[], minOut?: number): Float32Array {
  const rs = new ResampleStream(from, minOut);
  const parts: Float32Array[] = [];
  for (let at = 0, k = 0; at < x.length; k++) {
    const n = Math.min(x.length - at, sizes[k % sizes.length]!);
    parts.push(rs.push(x.slice(at, at + n)).slice());
    at += n;
  }
  parts.push(rs.end());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

const RATES = [8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000, 12345];

Deno.test("streamed resampling equals whole-signal resample for every rate and ragged pieces", () => {
  for (const from of RATES) {
    const x = signal(from * 3 + 17, from);
    const want = resample(x, from, 16000);
    for (const sizes of [[1, 7, 1000], [4096], [333, 20000, 5], [x.length]]) {
      for (const minOut of [1, 16000]) {
        const got = streamed(x, from, sizes, minOut);
        assert.equal(got.length, want.length, `${from} Hz, pieces ${sizes}: length`);
        assert.deepEqual(got, want, `${from} Hz, pieces ${sizes}, minOut ${minOut}`);
      }
    }
  }
});

Deno.test("a signal shorter than the filter's context comes out whole at the end", () => {
  // 44.1 kHz reads two blocks of 441 samples of context: 50 samples complete no output.
  const x = signal(50, 7);
  const rs = new ResampleStream(44100, 1);
  assert.equal(rs.push(x).length, 0, "nothing is final before the end");
  const want = resample(x, 44100, 16000);
  assert.ok(want.length > 0);
  assert.deepEqual(rs.end(), want);
});

Deno.test("an empty stream gives no samples and pushing after the end throws", () => {
  const rs = new ResampleStream(44100);
  assert.equal(rs.end().length, 0);
  assert.throws(() => rs.push(new Float32Array(3)), /after end/);
});

Deno.test("resampleWindow's window gives the whole signal's outputs for a range", () => {
  const from = 44100, x = signal(from * 2, 3);
  const want = resample(x, from, 16000);
  for (const [a, b] of [[0, 10], [5000, 5100], [31990, 32000], [12345, 23456]] as const) {
    const { w0, w1, o0 } = resampleWindow(a, b, x.length, from);
    assert.equal(w0 % 441, 0, "the window starts on a block boundary");
    const got = resample(x.subarray(w0, w1), from, 16000).slice(a - o0, b - o0);
    assert.deepEqual(got, want.slice(a, b));
  }
});
