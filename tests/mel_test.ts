import assert from "node:assert/strict";
import {
  clipFixtures,
  fixture,
  frameDiff,
  maxAbsDiff,
  sameInputFeatures,
  sha256Hex,
} from "./_audio_helpers.ts";
import { loadAudio } from "../lib/audio/load.ts";
import { RealFft } from "../lib/features/fft.ts";
import {
  DEFAULT_MEL,
  logMel,
  melFilterbank,
  melPower,
  numFrames,
  powerToDb,
  reflectPad,
} from "../lib/features/mel.ts";

/** Spec section 7: features vs torchaudio on identical 16 kHz input. */
const TOLERANCE = 1e-4;

Deno.test("logMel matches torchaudio within 1e-4 on identical 16 kHz input, for every fixture clip", async (t) => {
  for (const clip of clipFixtures()) {
    await t.step(clip.file, async () => {
      const { samples } = await loadAudio(fixture("audio", clip.file));
      // The reference was computed on these exact samples; a changed decoder must regenerate it.
      assert.equal(await sha256Hex(samples), clip.oursSha256, "decoded input changed");
      const ours = logMel(samples);
      const ref = sameInputFeatures(clip);
      assert.deepEqual([ours.nMels, ours.frames], ref.shape);
      // No element is excluded: clamping at (max - 80 dB) is continuous in both the
      // value and the max, so it cannot turn a small difference into a large one.
      const d = frameDiff(ours, { data: ref.data, frames: ref.shape[1]! }, ours.nMels);
      assert.ok(d.max <= TOLERANCE, `max abs error ${d.max} > ${TOLERANCE}`);
    });
  }
});

Deno.test("features have 64 rows and 1 + floor(n / 160) frames, float32", () => {
  for (const n of [513, 700, 1023, 1024, 16000, 16159, 16160]) {
    const f = logMel(new Float32Array(n).map((_, i) => Math.sin(i / 7)));
    assert.equal(f.nMels, 64);
    assert.equal(f.frames, 1 + Math.floor(n / 160));
    assert.equal(f.data.length, 64 * f.frames);
    assert.ok(f.data instanceof Float32Array);
  }
});

Deno.test("clips of 512 samples or fewer are zero-padded to 513, empty clips are rejected", () => {
  const x = new Float32Array(300).map((_, i) => Math.sin(i / 5));
  const padded = new Float32Array(513);
  padded.set(x);
  const a = logMel(x), b = logMel(padded);
  assert.equal(a.frames, 4);
  assert.equal(numFrames(1), 4);
  assert.equal(maxAbsDiff(a.data, b.data), 0);
  assert.throws(() => logMel(new Float32Array(0)), /empty clip/);
});

Deno.test("reflect padding mirrors without repeating the edge sample, like torch", () => {
  const x = Float32Array.from({ length: 600 }, (_, i) => i);
  const p = reflectPad(x, 1024);
  assert.equal(p.length, 600 + 1024);
  assert.deepEqual(Array.from(p.subarray(509, 515)), [3, 2, 1, 0, 1, 2]);
  assert.deepEqual(Array.from(p.subarray(512 + 597, 512 + 603)), [597, 598, 599, 598, 597, 596]);
});

Deno.test("the real FFT power spectrum equals a direct DFT", () => {
  for (const n of [8, 64, 1024]) {
    const x = Float64Array.from(
      { length: n },
      (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13,
    );
    const got = new Float64Array(n / 2 + 1);
    new RealFft(n).power(x, got);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < n; i++) {
        re += x[i]! * Math.cos((2 * Math.PI * k * i) / n);
        im -= x[i]! * Math.sin((2 * Math.PI * k * i) / n);
      }
      const want = re * re + im * im;
      assert.ok(Math.abs(got[k]! - want) <= 1e-9 * Math.max(1, want), `n=${n} k=${k}`);
    }
  }
});

Deno.test("the mel filterbank has 64 triangles peaking at 1 inside 60-7800 Hz", () => {
  const { start, weights } = melFilterbank(DEFAULT_MEL);
  assert.equal(weights.length, 64);
  for (let m = 0; m < 64; m++) {
    const w = weights[m]!;
    assert.ok(w.length > 0, `filter ${m} is empty`);
    const peak = Math.max(...w);
    assert.ok(peak > 0.5 && peak <= 1, `filter ${m} peak ${peak}`);
    assert.ok(start[m]! * 8000 / 512 > 60 - 8000 / 512, `filter ${m} starts below f_min`);
    assert.ok((start[m]! + w.length - 1) * 8000 / 512 < 7800, `filter ${m} ends above f_max`);
  }
});

Deno.test("dB values are clamped at 80 dB below the clip maximum", () => {
  // A loud tone then near-silence: the quiet part must sit exactly at the floor.
  const x = Float32Array.from(
    { length: 16000 },
    (_, i) => (i < 8000 ? Math.sin(i / 3) : 1e-9 * Math.sin(i)),
  );
  const { power } = melPower(x);
  const floor = powerToDb(power);
  let max = -Infinity, min = Infinity;
  for (const v of power) [max, min] = [Math.max(max, v), Math.min(min, v)];
  assert.ok(Math.abs(max - 80 - floor) < 1e-9);
  assert.equal(min, floor);
  const f = logMel(x);
  const scaledFloor =
    ((floor - DEFAULT_MEL.scaleMin) / (DEFAULT_MEL.scaleMax - DEFAULT_MEL.scaleMin)) * 2 - 1;
  assert.ok(Math.abs(Math.min(...f.data) - scaledFloor) < 1e-6);
});

Deno.test("melPower reads edge windows from padded copies exactly as from a fully padded clip", () => {
  const { start, weights } = melFilterbank(DEFAULT_MEL);
  const window = Float64Array.from(
    { length: 1024 },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / 1024),
  );
  const fft = new RealFft(1024);
  const spec = new Float64Array(513);
  for (const n of [513, 1000, 2047, 2048, 2049, 2207, 5000]) {
    const x = Float32Array.from(
      { length: n },
      (_, i) => Math.sin(i * 0.05) + Math.sin(i * i * 1e-5),
    );
    const padded = reflectPad(x, 1024);
    const { power, frames } = melPower(x);
    for (let t = 0; t < frames; t++) {
      fft.power(padded, spec, window, t * 160);
      for (let m = 0; m < 64; m++) {
        let want = 0;
        weights[m]!.forEach((w, k) => (want += w * spec[start[m]! + k]!));
        const got = power[m * frames + t]!;
        assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, want), `n=${n} t=${t} m=${m}`);
      }
    }
  }
});
