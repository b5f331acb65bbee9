/**
 * Training data: every input file is decoded and resampled once, then
 * cached under `<run>/cache/` as raw little-endian float32 (`000000.f32`,
 * ...) with `index.json` naming the source of each. Later epochs, and
 * resumed runs, read crops straight from the cache without decoding.
 *
 * @module
 */
import { join } from "node:path";
import { expandInputs } from "../audio/inputs.ts";
import { loadAudio } from "../audio/load.ts";
import { exists, writeFileAtomic } from "../io/atomic.ts";
import type { ClipSource } from "./views.ts";

/** One cached clip. */
export interface CachedClip {
  /** The input path it was decoded from. */
  path: string;
  /** Cache file name inside the cache folder. */
  file: string;
  /** Samples at 16 kHz. */
  samples: number;
}

/** `<run>/cache/index.json`. */
export interface CacheIndex {
  version: 1;
  /** The --data arguments the cache was built from. */
  inputs: string[];
  clips: CachedClip[];
  /** Inputs that could not be read, with the reason. */
  skipped: { path: string; reason: string }[];
}

/** A decoded data set on disk. */
export interface TrainData {
  index: CacheIndex;
  clips: ClipSource;
  /** True when the cache was built by this call (false: reused). */
  built: boolean;
}

/**
 * Decodes `inputs` (files, folders, @lists) into `cacheDir`, or reuses the
 * cache when it was built from the same inputs. Unreadable files are
 * skipped, each reported through `warn`; no readable file at all is an
 * error.
 */
export async function prepareData(
  inputs: string[],
  cacheDir: string,
  opts: { warn?: (msg: string) => void } = {},
): Promise<TrainData> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  const indexPath = join(cacheDir, "index.json");
  if (await exists(indexPath)) {
    const index = JSON.parse(await Deno.readTextFile(indexPath)) as CacheIndex;
    if (JSON.stringify(index.inputs) === JSON.stringify(inputs)) {
      return { index, clips: diskClips(cacheDir, index.clips), built: false };
    }
    warn(`atst: cache in '${cacheDir}' was built from other inputs; rebuilding it`);
  }
  const { files, errors } = await expandInputs(inputs);
  const skipped = errors.map((e) => ({ path: e.path, reason: e.reason }));
  for (const e of errors) warn(`atst: skipping '${e.path}': ${e.reason}`);
  const clips: CachedClip[] = [];
  for (const f of files) {
    let samples: Float32Array;
    try {
      samples = (await loadAudio(f.path)).samples;
      if (samples.length === 0) throw new Error("no samples");
    } catch (err) {
      const reason = (err as { reason?: string }).reason ?? (err as Error).message;
      warn(`atst: skipping '${f.path}': ${reason}`);
      skipped.push({ path: f.path, reason });
      continue;
    }
    const file = `${String(clips.length).padStart(6, "0")}.f32`;
    await writeFileAtomic(join(cacheDir, file), f32Bytes(samples));
    clips.push({ path: f.path, file, samples: samples.length });
  }
  if (clips.length === 0) {
    throw new Error(`No readable audio in ${inputs.map((i) => `'${i}'`).join(", ")}`);
  }
  const index: CacheIndex = { version: 1, inputs, clips, skipped };
  await writeFileAtomic(indexPath, JSON.stringify(index, null, 1));
  return { index, clips: diskClips(cacheDir, clips), built: true };
}

function f32Bytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) dv.setFloat32(i * 4, x[i]!, true);
  return out;
}

/** Clips read from the cache files on demand (only the crop's bytes). */
export function diskClips(cacheDir: string, clips: CachedClip[]): ClipSource {
  return {
    count: clips.length,
    length: (c) => clips[c]!.samples,
    read(c, offset, length) {
      const clip = clips[c]!;
      const out = new Float32Array(length);
      const n = Math.max(0, Math.min(length, clip.samples - offset));
      if (n === 0) return out;
      const bytes = new Uint8Array(n * 4);
      using file = Deno.openSync(join(cacheDir, clip.file), { read: true });
      file.seekSync(offset * 4, Deno.SeekMode.Start);
      let got = 0;
      while (got < bytes.length) {
        const r = file.readSync(bytes.subarray(got));
        if (r === null) throw new Error(`Cache file '${clip.file}' is shorter than its index says`);
        got += r;
      }
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    },
  };
}
