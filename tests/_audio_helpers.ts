/**
 * Helpers of the audio, mel and featurize tests: reading fixtures/features
 * (written by tools/gen_features.py), plus local stand-ins for
 * tests/_helpers.ts, whose `fromFileUrl` import from node:path fails under
 * Deno (node:path has no such export); switch back once it is fixed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { decodeNpy, type NpyArray } from "../lib/io/npy.ts";

/** Absolute path of the repository root (with a trailing slash). */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** Absolute path of a file under fixtures/. */
export function fixture(...parts: string[]): string {
  return fileURLToPath(new URL(`../fixtures/${parts.join("/")}`, import.meta.url));
}

/** Reads a committed .npy fixture. */
export function readFixtureNpy(...parts: string[]): NpyArray {
  return decodeNpy(Deno.readFileSync(fixture(...parts)), parts.join("/"));
}

/** Max |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Runs the CLI (`deno run -A main.ts ...args`) and captures its output;
 * `wrapper` runs it under another program (e.g. setpriv).
 */
export async function runCli(
  args: string[],
  opts: { stdin?: string; cwd?: string; wrapper?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [Deno.execPath(), "run", "-A", `${ROOT}main.ts`, ...args];
  const [cmd, ...rest] = [...(opts.wrapper ?? []), ...argv];
  const child = new Deno.Command(cmd!, {
    args: rest,
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

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
