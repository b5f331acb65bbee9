/**
 * Training data: every input file is decoded and resampled once, on
 * `jobs` worker threads (and, in a data-parallel run, on every rank: shard
 * k on rank k % size), into the sharded cache of lib/train/cache_shards.ts.
 * Later epochs, resumed runs and a build killed half-way read the finished
 * shards instead of decoding again; crops are read by offset.
 *
 * @module
 */
import { join } from "node:path";
import { expandInputs } from "../audio/inputs.ts";
import { LONG_SAMPLES, sequentialChunks } from "../audio/load.ts";
import { InputError } from "../errors.ts";
import { exists, writeFileAtomic } from "../io/atomic.ts";
import { Progress } from "../io/progress.ts";
import { agree, type Collective, SOLO } from "../dist/world.ts";
import { type AudioJob, type AudioReply, loadFiles } from "../features/featurize_pool.ts";
import {
  CACHE_VERSION,
  type CacheIndex,
  type CacheKey,
  clipTable,
  filesPerShard,
  listHash,
  readShardRecord,
  shardClips,
  type ShardClipSource,
  shardName,
  ShardWriter,
  type Skipped,
} from "./cache_shards.ts";

export type { CachedClip, CacheIndex } from "./cache_shards.ts";

/** A decoded data set on disk. */
export interface TrainData {
  index: CacheIndex;
  clips: ShardClipSource;
  /** True when the cache was built (or finished) by this call (false: reused). */
  built: boolean;
  /** Files this process decoded (0 when reused; finished shards are not decoded again). */
  decoded: number;
}

/** Options of {@link prepareData}. */
export interface PrepareOptions {
  /** Where warnings go (default stderr). */
  warn?: (msg: string) => void;
  /** The ranks of a data-parallel run (default: this process alone). */
  world?: Collective;
  /** Decoding workers per process (default: the machine's cores; 1 = this thread). */
  jobs?: number;
  /** A progress bar with files/s and ETA on stderr (rank 0; default false). */
  progress?: boolean;
  /** Where `-` reads paths from (default stdin; rank 0 reads it). */
  stdin?: ReadableStream<Uint8Array>;
  /** Called when shard `k` is done (tests: throwing stops the build as a kill would). */
  onShard?: (k: number) => void;
}

/** What rank 0 found: the file list, and whether the cache already holds it. */
interface Plan {
  key: CacheKey;
  reuse: boolean;
  files: string[];
  listErrors: Skipped[];
}

/**
 * Decodes `inputs` (files, folders, @lists, `-`) into `cacheDir`, or reuses
 * the cache when it was built from the same inputs and files. Unreadable
 * files are skipped, each reported through `warn`; no readable file at all
 * is an error. In a data-parallel run every rank calls this: rank 0 expands
 * the inputs and sends the list, each rank decodes its shards, rank 0
 * writes the index, and all read it.
 *
 * @example
 * ```ts
 * const data = await prepareData(["clips/"], "run/cache", { jobs: 4 });
 * console.log(data.index.clips.length, data.clips.read(0, 0, 16000).length);
 * ```
 */
export async function prepareData(
  inputs: string[],
  cacheDir: string,
  opts: PrepareOptions = {},
): Promise<TrainData> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  const world = opts.world ?? SOLO;
  const plan = await fromLead(world, () => planBuild(inputs, cacheDir, warn, opts.stdin));
  let decoded = 0;
  if (!plan.reuse) {
    decoded = await agree(world, () => decodeShards(plan.files, cacheDir, world, opts));
    await agree(world, async () => {
      if (world.rank === 0) await writeIndex(plan, cacheDir, warn);
    });
  }
  const index = JSON.parse(await Deno.readTextFile(join(cacheDir, "index.json"))) as CacheIndex;
  return { index, clips: shardClips(clipTable(cacheDir, index)), built: !plan.reuse, decoded };
}

/** Runs `fn` on rank 0 and gives its JSON value to every rank. */
async function fromLead<T>(world: Collective, fn: () => Promise<T>): Promise<T> {
  const value = await agree(world, async () => world.rank === 0 ? await fn() : undefined);
  if (world.size === 1) return value as T;
  const mine = world.rank === 0
    ? new TextEncoder().encode(JSON.stringify(value))
    : new Uint8Array(0);
  const length = Float64Array.of(mine.length);
  world.allreduce(length, "max");
  const buf = world.rank === 0 ? mine : new Uint8Array(length[0]!);
  world.broadcast(buf, 0);
  return JSON.parse(new TextDecoder().decode(buf)) as T;
}

const sameKey = (a: CacheKey, b: CacheKey) =>
  a.version === b.version && a.listHash === b.listHash &&
  JSON.stringify(a.inputs) === JSON.stringify(b.inputs);

/** Rank 0: expands the inputs, then reuses, resumes or clears the cache. */
async function planBuild(
  inputs: string[],
  cacheDir: string,
  warn: (msg: string) => void,
  stdin?: ReadableStream<Uint8Array>,
): Promise<Plan> {
  const { files, errors } = await expandInputs(inputs, { stdin });
  const paths = files.map((f) => f.path);
  const key: CacheKey = { version: CACHE_VERSION, inputs, listHash: await listHash(paths) };
  const listErrors = errors.map((e) => ({ path: e.path, reason: e.reason }));
  await Deno.mkdir(cacheDir, { recursive: true });
  const read = async (name: string) => {
    const path = join(cacheDir, name);
    return (await exists(path)) ? JSON.parse(await Deno.readTextFile(path)) as CacheKey : null;
  };
  const index = await read("index.json");
  if (index && sameKey(index, key)) return { key, reuse: true, files: [], listErrors };
  const build = index ? null : await read("build.json");
  if (build && sameKey(build, key)) return { key, reuse: false, files: paths, listErrors };
  if (index || build) {
    warn(`atst: cache in '${cacheDir}' was built from other inputs; rebuilding it`);
  }
  for (const e of [...Deno.readDirSync(cacheDir)]) {
    await Deno.remove(join(cacheDir, e.name), { recursive: true });
  }
  await writeFileAtomic(join(cacheDir, "build.json"), JSON.stringify(key));
  return { key, reuse: false, files: paths, listErrors };
}

/** Decodes this rank's unfinished shards, in order; returns the number of files decoded. */
async function decodeShards(
  files: string[],
  cacheDir: string,
  world: Collective,
  opts: PrepareOptions,
): Promise<number> {
  const per = filesPerShard(files.length);
  const inputs: number[] = [];
  for (let k = world.rank; k * per < files.length; k += world.size) {
    if (await readShardRecord(cacheDir, k)) continue;
    for (let i = k * per; i < Math.min(files.length, (k + 1) * per); i++) inputs.push(i);
  }
  const progress = new Progress({
    label: "cache: files",
    total: inputs.length,
    enabled: world.rank === 0 && opts.progress === true,
    logEverySeconds: 10,
  });
  let writer: ShardWriter | null = null, i = 0;
  try {
    for await (const r of decodeInOrder(inputs.map((n) => files[n]!), opts.jobs)) {
      const input = inputs[i++]!, k = Math.floor(input / per);
      writer ??= new ShardWriter(cacheDir, k, k * per, Math.min(files.length, (k + 1) * per));
      if ("samples" in r) await writer.append(input, r.samples);
      else if ("streamed" in r) await appendLong(writer, input, files[input]!);
      else if ("error" in r) writer.skip(input, r.error.reason);
      if (input === writer.record.end - 1) {
        await writer.finish();
        writer = null;
        opts.onShard?.(k);
      }
      progress.tick();
    }
  } finally {
    writer?.abandon();
  }
  progress.done();
  return inputs.length;
}

/**
 * Appends a long file to the shard on this thread, read and resampled in
 * order (a WAV 30 s at a time, FLAC/MP3/Ogg a MiB of the file at a time),
 * so a 2-hour file costs a chunk of memory, not the whole file.
 */
async function appendLong(writer: ShardWriter, input: number, path: string): Promise<void> {
  try {
    await writer.appendChunks(input, sequentialChunks(path));
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    writer.skip(input, err.reason);
  }
}

/**
 * Decodes `paths` to 16 kHz samples in order: here (jobs 1) or on a pool of
 * workers; a WAV or FLAC longer than LONG_SAMPLES, or an MP3 or Ogg file of
 * LONG_COMPRESSED_BYTES, comes back `streamed`, unread.
 */
async function* decodeInOrder(paths: string[], jobs?: number): AsyncGenerator<AudioReply> {
  const job = (path: string): AudioJob => ({
    path,
    output: "samples",
    requireAudio: true,
    streamAbove: LONG_SAMPLES,
    sequential: true,
  });
  yield* loadFiles(paths.map(job), Math.min(jobs ?? navigator.hardwareConcurrency, paths.length));
}

/**
 * Rank 0, once every shard is done: folds the shard records, in input
 * order, into index.json and removes them.
 */
async function writeIndex(plan: Plan, cacheDir: string, warn: (msg: string) => void) {
  const skipped = [...plan.listErrors];
  for (const e of skipped) warn(`atst: skipping '${e.path}': ${e.reason}`);
  const index: CacheIndex = { ...plan.key, shards: [], clips: [], skipped };
  const per = filesPerShard(plan.files.length);
  const done: string[] = [];
  for (let k = 0; k * per < plan.files.length; k++) {
    const rec = await readShardRecord(cacheDir, k);
    if (!rec) throw new Error(`Cache shard ${k} is missing after the build`);
    done.push(shardName(k, ".json"));
    const shard = index.shards.length;
    if (rec.clips.length) index.shards.push(shardName(k, ".f32"));
    for (const c of rec.clips) {
      index.clips.push({ path: plan.files[c.input]!, shard, offset: c.offset, samples: c.samples });
    }
    for (const s of rec.skipped) {
      const path = plan.files[s.input]!;
      warn(`atst: skipping '${path}': ${s.reason}`);
      skipped.push({ path, reason: s.reason });
    }
  }
  if (index.clips.length === 0) {
    throw new Error(`No readable audio in ${plan.key.inputs.map((i) => `'${i}'`).join(", ")}`);
  }
  await writeFileAtomic(join(cacheDir, "index.json"), JSON.stringify(index));
  for (const name of [...done, "build.json"]) await Deno.remove(join(cacheDir, name));
}
