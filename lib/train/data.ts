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
import { agree, type Collective, SOLO } from "../dist/world.ts";
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
 * error. In a data-parallel run (`opts.world`) every rank calls this: the
 * ranks decode every size-th file each, rank 0 writes the index after
 * they all have finished, and all read the same index.
 */
export async function prepareData(
  inputs: string[],
  cacheDir: string,
  opts: { warn?: (msg: string) => void; world?: Collective } = {},
): Promise<TrainData> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  const world = opts.world ?? SOLO;
  const indexPath = join(cacheDir, "index.json");
  // Rank 0 decides, so that no rank sees an index another is writing.
  const reuse = Float64Array.of(0);
  await agree(world, async () => {
    if (world.rank !== 0 || !(await exists(indexPath))) return;
    const index = JSON.parse(await Deno.readTextFile(indexPath)) as CacheIndex;
    if (JSON.stringify(index.inputs) === JSON.stringify(inputs)) reuse[0] = 1;
    else warn(`atst: cache in '${cacheDir}' was built from other inputs; rebuilding it`);
  });
  world.allreduce(reuse, "max");
  if (!reuse[0]) {
    const part = await agree(world, () => decodeShare(inputs, cacheDir, world));
    world.barrier();
    await agree(world, async () => {
      if (world.rank === 0) await writeIndex(inputs, cacheDir, world.size, part, warn);
    });
  }
  const index = JSON.parse(await Deno.readTextFile(indexPath)) as CacheIndex;
  return { index, clips: diskClips(cacheDir, index.clips), built: !reuse[0] };
}

/** What one rank decoded: per input file it owned, its samples or why it was skipped. */
interface Part {
  files: string[];
  listErrors: { path: string; reason: string }[];
  decoded: { input: number; samples?: number; reason?: string }[];
}

const partName = (input: number) => `part-${String(input).padStart(6, "0")}.f32`;

/** Decodes the files of this rank's share (input i on rank i % size) into part files. */
async function decodeShare(inputs: string[], cacheDir: string, world: Collective): Promise<Part> {
  const { files, errors } = await expandInputs(inputs);
  const part: Part = {
    files: files.map((f) => f.path),
    listErrors: errors.map((e) => ({ path: e.path, reason: e.reason })),
    decoded: [],
  };
  for (let i = world.rank; i < files.length; i += world.size) {
    try {
      const { samples } = await loadAudio(files[i]!.path);
      if (samples.length === 0) throw new Error("no samples");
      await writeFileAtomic(join(cacheDir, partName(i)), f32Bytes(samples));
      part.decoded.push({ input: i, samples: samples.length });
    } catch (err) {
      const reason = (err as { reason?: string }).reason ?? (err as Error).message;
      part.decoded.push({ input: i, reason });
    }
  }
  if (world.rank > 0) {
    await writeFileAtomic(join(cacheDir, `part-rank${world.rank}.json`), JSON.stringify(part));
  }
  return part;
}

/**
 * Rank 0: merges every rank's part in input order, names the cache files
 * 000000.f32, ... in that order and writes index.json.
 */
async function writeIndex(
  inputs: string[],
  cacheDir: string,
  size: number,
  own: Part,
  warn: (msg: string) => void,
): Promise<void> {
  const parts = [own];
  for (let r = 1; r < size; r++) {
    const path = join(cacheDir, `part-rank${r}.json`);
    parts.push(JSON.parse(await Deno.readTextFile(path)) as Part);
    await Deno.remove(path);
  }
  const byInput = parts.flatMap((p) => p.decoded).sort((a, b) => a.input - b.input);
  const skipped = [...own.listErrors];
  for (const e of skipped) warn(`atst: skipping '${e.path}': ${e.reason}`);
  const clips: CachedClip[] = [];
  for (const d of byInput) {
    const path = own.files[d.input]!;
    if (d.samples === undefined) {
      warn(`atst: skipping '${path}': ${d.reason}`);
      skipped.push({ path, reason: d.reason ?? "unreadable" });
      continue;
    }
    const file = `${String(clips.length).padStart(6, "0")}.f32`;
    await Deno.rename(join(cacheDir, partName(d.input)), join(cacheDir, file));
    clips.push({ path, file, samples: d.samples });
  }
  if (clips.length === 0) {
    throw new Error(`No readable audio in ${inputs.map((i) => `'${i}'`).join(", ")}`);
  }
  const index: CacheIndex = { version: 1, inputs, clips, skipped };
  await writeFileAtomic(join(cacheDir, "index.json"), JSON.stringify(index, null, 1));
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
