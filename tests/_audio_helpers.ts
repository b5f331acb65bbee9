/**
 * Helpers of the audio, mel and featurize tests: reading fixtures/features
 * (written by tools/gen_features.py); the general ones come from
 * tests/_helpers.ts and are re-exported for convenience.
 *
 * @module
 */
import type { NpyArray } from "../lib/io/npy.ts";
import { fixture, readFixtureNpy } from "./_helpers.ts";

export { fixture, maxAbsDiff, readFixtureNpy, ROOT, runCli } from "./_helpers.ts";

/**
 * A command prefix that makes permission bits apply even to root (drops
 * the DAC-override capabilities), `[]` for other users, or null when root
 * cannot drop them here (no setpriv).
 */
export function permissionsEnforcedWrapper(): string[] | null {
  if (Deno.uid() !== 0) return [];
  try {
    const ok = new Deno.Command("setpriv", {
      args: ["--bounding-set", "-dac_override,-dac_read_search", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
    return ok ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] : null;
  } catch {
    return null;
  }
}

/** One clip of fixtures/features/manifest.json. */
export interface ClipFixture {
  file: string;
  key: string;
  lossy: boolean;
  sourceRate: number;
  channels: number;
  refSamples: number;
  oursSamples: number;
  frames: number;
  /** Our 16 kHz samples equal torchaudio's bit for bit (then only .ref.npy exists). */
  sameInput: boolean;
  oursSha256: string;
  resample: boolean;
}

/** The clips of the feature manifest. */
export function clipFixtures(): ClipFixture[] {
  return JSON.parse(Deno.readTextFileSync(fixture("features", "manifest.json"))).clips;
}

/** torchaudio end to end on the raw file (its decoder and resampler). */
export function refFeatures(clip: ClipFixture): NpyArray {
  return readFixtureNpy("features", `${clip.key}.ref.npy`);
}

/** torchaudio features of exactly our 16 kHz samples. */
export function sameInputFeatures(clip: ClipFixture): NpyArray {
  return readFixtureNpy("features", `${clip.key}.${clip.sameInput ? "ref" : "same"}.npy`);
}

/** Hex sha256 of float32 samples (little-endian bytes), as the manifest stores it. */
export async function sha256Hex(x: Float32Array): Promise<string> {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Max and mean |a - b| over the first `frames` columns of two [rows, *] arrays. */
export function frameDiff(
  a: { data: ArrayLike<number>; frames: number },
  b: { data: ArrayLike<number>; frames: number },
  rows: number,
): { max: number; mean: number; frames: number } {
  const frames = Math.min(a.frames, b.frames);
  let max = 0, sum = 0;
  for (let m = 0; m < rows; m++) {
    for (let t = 0; t < frames; t++) {
      const d = Math.abs(a.data[m * a.frames + t]! - b.data[m * b.frames + t]!);
      if (d > max) max = d;
      sum += d;
    }
  }
  return { max, mean: sum / (rows * frames), frames };
}
