/**
 * The decoded-audio cache on disk, its one reader and one writer:
 *
 * ```
 * <cache>/build.json         inputs and file list the build is for (written first)
 * <cache>/shard-000000.f32   16 kHz samples, raw little-endian float32, clips back to back
 * <cache>/shard-000000.json  that shard's clips and skipped files (its "done" mark)
 * <cache>/index.json         every clip: shard, offset, samples (written last)
 * ```
 *
 * Shard k holds input files [k F, (k + 1) F), F = {@link filesPerShard}:
 * a pure function of the file count, so the index is the same whatever the
 * number of workers or ranks, and a killed build redoes only the shards
 * without their `.json`. The shard `.json` files are folded into
 * `index.json` and removed when the build ends.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import type { ClipSource } from "./views.ts";

/** The cache format version (1: one file per clip). */
export const CACHE_VERSION = 2;

/** At most this many shards until the files per shard reach {@link MAX_FILES_PER_SHARD}. */
export const SHARDS = 64;
/** 1024 files of 10 s are about 650 MB of float32 samples. */
export const MAX_FILES_PER_SHARD = 1024;

/** Input files per shard for a corpus of `files` files. */
export function filesPerShard(files: number): number {
  return Math.min(MAX_FILES_PER_SHARD, Math.max(1, Math.ceil(files / SHARDS)));
}

/** File name of shard `k` (`ext` ".f32" or ".json"). */
export function shardName(k: number, ext: ".f32" | ".json"): string {
  return `shard-${String(k).padStart(6, "0")}${ext}`;
}

/** A skipped input: its path and why. */
export interface Skipped {
  path: string;
  reason: string;
}

/** `<cache>/shard-k.json`: what shard k holds. */
export interface ShardRecord {
  shard: number;
  /** Input files first..end-1 went into it (in order). */
  first: number;
  end: number;
  /** Clips in the shard, in input order: input number, start (in samples), length. */
  clips: { input: number; offset: number; samples: number }[];
  skipped: { input: number; reason: string }[];
}

/** What a build is for: a cache with another key is rebuilt. */
export interface CacheKey {
  version: number;
  /** The --data arguments. */
  inputs: string[];
  /** SHA-256 of the expanded file list (so `-` and changed folders are told apart). */
  listHash: string;
}

/** `<cache>/index.json`. */
export interface CacheIndex extends CacheKey {
  /** Shard file names; a clip's `shard` indexes this list. */
  shards: string[];
  clips: CachedClip[];
  /** Inputs that could not be read, with the reason. */
  skipped: Skipped[];
}

/** One cached clip. */
export interface CachedClip {
  /** The input path it was decoded from. */
  path: string;
  /** Index into {@link CacheIndex.shards}. */
  shard: number;
  /** First sample of the clip in its shard. */
  offset: number;
  /** Samples at 16 kHz. */
  samples: number;
}

/** SHA-256 (hex) of the file list, one path per line. */
export async function listHash(paths: string[]): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(paths.join("\n")));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const LITTLE = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

/** The bytes of `x` as little-endian float32 (a view of `x` on little-endian machines). */
export function f32Bytes(x: Float32Array): Uint8Array {
  if (LITTLE) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const out = new Uint8Array(x.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) dv.setFloat32(i * 4, x[i]!, true);
  return out;
}

/**
 * Writes one shard: clips are appended to `shard-k.f32.tmp` as they come,
 * then {@link finish} renames it and writes `shard-k.json`, which marks the
 * shard done (a kill before that leaves it to be redone).
 */
export class ShardWriter {
  readonly record: ShardRecord;
  #file: Deno.FsFile | null = null;
  #samples = 0;

  constructor(readonly dir: string, shard: number, first: number, end: number) {
    this.record = { shard, first, end, clips: [], skipped: [] };
  }

  /** Appends input `input`'s samples. */
  async append(input: number, samples: Float32Array): Promise<void> {
    await this.appendChunks(input, [samples]);
  }

  /**
   * Appends input `input`'s samples as they come, a chunk at a time (a long
   * file is never held whole). When `chunks` throws part-way, the shard is
   * cut back to its previous clip and the error rethrown.
   */
  async appendChunks(
    input: number,
    chunks: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  ): Promise<void> {
    const file = this.#file ??= await Deno.open(this.#tmp, {
      write: true,
      create: true,
      truncate: true,
    });
    let samples = 0;
    try {
      for await (const chunk of chunks) {
        const bytes = f32Bytes(chunk);
        for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
        samples += chunk.length;
      }
    } catch (err) {
      await file.truncate(this.#samples * 4);
      await file.seek(this.#samples * 4, Deno.SeekMode.Start);
      throw err;
    }
    this.record.clips.push({ input, offset: this.#samples, samples });
    this.#samples += samples;
  }

  /** Records input `input` as skipped. */
  skip(input: number, reason: string): void {
    this.record.skipped.push({ input, reason });
  }

  /** Makes the shard durable and marks it done. */
  async finish(): Promise<ShardRecord> {
    const k = this.record.shard;
    if (this.#file) {
      await this.#file.sync();
      this.#file.close();
      await Deno.rename(this.#tmp, join(this.dir, shardName(k, ".f32")));
    }
    await writeFileAtomic(join(this.dir, shardName(k, ".json")), JSON.stringify(this.record));
    return this.record;
  }

  /** Closes the file without marking the shard done. */
  abandon(): void {
    this.#file?.close();
    this.#file = null;
  }

  get #tmp(): string {
    return join(this.dir, shardName(this.record.shard, ".f32") + ".tmp");
  }
}

/** The shard record of shard `k`, or null when that shard is not done. */
export async function readShardRecord(dir: string, k: number): Promise<ShardRecord | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, shardName(k, ".json")))) as ShardRecord;
  } catch {
    return null;
  }
}

/**
 * Where every clip is, as flat arrays (shared between threads without a
 * copy when built on SharedArrayBuffer): the form view workers read.
 */
export interface ClipTable {
  /** The cache folder. */
  dir: string;
  shards: string[];
  /** Per clip: shard number, first sample, length. */
  shard: Int32Array;
  offset: Float64Array;
  samples: Float64Array;
}

/** The index's clips as a {@link ClipTable} on shared memory. */
export function clipTable(dir: string, index: CacheIndex): ClipTable {
  const n = index.clips.length;
  const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));
  const table: ClipTable = {
    dir,
    shards: index.shards,
    shard: new Int32Array(shared(4 * n), 0, n),
    offset: new Float64Array(shared(8 * n), 0, n),
    samples: new Float64Array(shared(8 * n), 0, n),
  };
  index.clips.forEach((c, i) => {
    table.shard[i] = c.shard;
    table.offset[i] = c.offset;
    table.samples[i] = c.samples;
  });
  return table;
}

/** A clip source that also says where its clips are, so another thread can open it. */
export interface ShardClipSource extends ClipSource {
  readonly table: ClipTable;
}

/** Clips read from the shards on demand: only the crop's bytes, at its offset. */
export function shardClips(table: ClipTable): ShardClipSource {
  return {
    table,
    count: table.shard.length,
    length: (c) => table.samples[c]!,
    read(c, offset, length) {
      const out = new Float32Array(length);
      const n = Math.max(0, Math.min(length, table.samples[c]! - offset));
      if (n === 0) return out;
      const name = table.shards[table.shard[c]!]!;
      using file = Deno.openSync(join(table.dir, name), { read: true });
      file.seekSync((table.offset[c]! + offset) * 4, Deno.SeekMode.Start);
      const bytes = LITTLE ? new Uint8Array(out.buffer, 0, n * 4) : new Uint8Array(n * 4);
      for (let got = 0; got < bytes.length;) {
        const r = file.readSync(bytes.subarray(got));
        if (r === null) throw new Error(`Cache file '${name}' is shorter than its index says`);
        got += r;
      }
      if (!LITTLE) {
        const dv = new DataView(bytes.buffer);
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      }
      return out;
    },
  };
}
