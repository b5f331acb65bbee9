/**
 * Procedural inputs of the model tests: log-mel-like arrays and waveforms
 * computed exactly as `signal()` and `audio()` in
 * tools/gen_model_fixtures.py (so no input arrays are committed), a float
 * WAV writer, and the shape of fixtures/model/refs.json.
 *
 * @module
 */

/** [64, frames] row-major float32: sin(0.37 f + 0.11 t + s) * cos(0.023 t (1 + f % 5) + s / 2). */
export function signal(frames: number, seed: number): Float32Array {
  const x = new Float32Array(64 * frames);
  for (let f = 0; f < 64; f++) {
    for (let t = 0; t < frames; t++) {
      x[f * frames + t] = Math.sin(0.37 * f + 0.11 * t + seed) *
        Math.cos(0.023 * t * (1 + (f % 5)) + 0.5 * seed);
    }
  }
  return x;
}

/** The reference outputs stored in fixtures/model/refs.json. */
export interface ModelRefs {
  a: {
    chunk: number;
    widths: number[];
    clips: Record<string, { quirk: number[]; corrected: number[] }>;
  };
  a_frames: { width: number; seed: number; chunkFrames: number };
  b: { lengths: number[]; seeds: number[]; width: number };
}

/** Float32 test waveform at 16 kHz, the same numbers as `audio()` in tools/gen_model_fixtures.py. */
export function audio(seconds: number, seed: number): Float32Array {
  const x = new Float32Array(Math.trunc(seconds * 16000));
  for (let n = 0; n < x.length; n++) {
    const t = n / 16000;
    x[n] = 0.3 * Math.sin(2 * Math.PI * (220 + 40 * seed + 150 * t) * t) +
      0.2 * Math.sin(2 * Math.PI * 1000 * t) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 0.7 * t)) +
      0.05 * Math.sin(n * n * 1e-4 + seed);
  }
  return x;
}
