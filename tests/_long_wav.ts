/**
 * Long 16-bit PCM WAV files written a second at a time (the tests of
 * streamed reading stay small in memory themselves): a deterministic tone
 * sweep with a little noise.
 *
 * @module
 */
import { wavHeader } from "../lib/io/wav.ts";

/** Options of {@link writeLongWav}. */
export interface LongWavOptions {
  seconds: number;
  rate: number;
  channels: number;
}

/**
 * Writes a 16-bit PCM WAV of `seconds` to `path`, one second at a time;
 * returns its size in bytes.
 *
 * @example
 * ```ts
 * await writeLongWav("long.wav", { seconds: 600, rate: 44100, channels: 2 });
 * ```
 */
export async function writeLongWav(path: string, opts: LongWavOptions): Promise<number> {
  const { seconds, rate, channels } = opts;
  const frames = Math.round(seconds * rate);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const w = async (b: Uint8Array) => {
    for (let at = 0; at < b.length;) at += await file.write(b.subarray(at));
  };
  await w(wavHeader(1, 16, rate, channels, frames * channels * 2));
  const block = new Int16Array(rate * channels);
  let seed = 7;
  for (let f0 = 0; f0 < frames; f0 += rate) {
    const n = Math.min(rate, frames - f0);
    for (let i = 0; i < n; i++) {
      const t = (f0 + i) / rate;
      for (let c = 0; c < channels; c++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const v = 0.5 * Math.sin(2 * Math.PI * (200 + 50 * c + (t % 60) * 20) * t) +
          0.1 * (seed / 2147483648 - 0.5);
        block[i * channels + c] = Math.round(v * 32767);
      }
    }
    await w(new Uint8Array(block.buffer, 0, n * channels * 2));
  }
  return 44 + frames * channels * 2;
}
