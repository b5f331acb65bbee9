/**
 * The frame embeddings of a strong-label set as an index of files on disk,
 * one `[frames, dim]` `.npy` and its `.times.npy` per audio file: the
 * outputs of `atst embed --frames` (a folder of `<path>.npy` +
 * `<path>.times.npy`, read in place), a `--format jsonl` file with
 * `times_ms` (copied to a temporary folder, one record at a time), or
 * frames computed with a checkpoint through the probe's embedding cache
 * (model_embeddings.ts; with no cache, a temporary folder). Opening the
 * index reads every file once to check it and keeps only its frame count
 * and last frame times, so the events probe can read one file at a time
 * ({@link loadFrames}) in memory bounded by the largest file, not the set.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import { manifestSha, timesNpyPath } from "../../embed/format.ts";
import { encodeNpy } from "../../io/npy.ts";
import { findNpy, matchRecords, readEmbeddingNpy } from "../embeddings.ts";
import type { ModelEmbeddingOptions } from "../model_embeddings.ts";

/** One file's frames. */
export interface FileFrames {
  /** `[frames, dim]` row-major. */
  data: Float32Array;
  frames: number;
  /** Frame centres in milliseconds, increasing. */
  timesMs: Float64Array;
}

/** Where one file's frames are, and what the probe needs of them without reading them. */
export interface FrameRef {
  /** The `[frames, dim]` `.npy`. */
  dataPath: string;
  /** The `[frames]` `.times.npy` next to it. */
  timesPath: string;
  frames: number;
  /** The last two frame times (one for a one-frame file): where the audio ends. */
  tailMs: Float64Array;
  /** Named in errors. */
  where: string;
}

/** Frame embeddings of every file of a set, in file order, on disk. */
export interface FrameTable {
  files: FrameRef[];
  dim: number;
  /** Median spacing of the first file's frame times (ms; 40 for a one-frame file). */
  hopMs: number;
  source: string;
  modelSha256?: string;
  /** Removes the temporary copies, if any (jsonl input, a model without cache). */
  close(): Promise<void>;
}

type FileRef = { path: string; resolved: string };

/** Median spacing of increasing times (ms); 40 when there is only one. */
function medianHop(t: ArrayLike<number>): number {
  if (t.length < 2) return 40;
  const d = Array.from({ length: t.length - 1 }, (_, k) => t[k + 1]! - t[k]!).sort((a, b) => a - b);
  return d[d.length >> 1]!;
}

/** Collects per-file references, checking widths, lengths, finiteness and time order. */
class FrameTableBuilder {
  readonly files: (FrameRef | undefined)[];
  #dim = 0;
  #first = "";
  #hop = 40;

  constructor(n: number) {
    this.files = new Array(n);
  }

  set(
    i: number,
    data: ArrayLike<number>,
    timesMs: ArrayLike<number>,
    rows: number,
    at: { where: string; dataPath: string; timesPath: string },
  ) {
    const { where } = at;
    if (rows < 1) throw new UserError(`Frame embedding '${where}' has no frames`);
    const dim = data.length / rows;
    if (!this.#dim) [this.#dim, this.#first] = [dim, where];
    if (dim !== this.#dim || !Number.isInteger(dim)) {
      throw new UserError(
        `Frame embedding '${where}' has ${dim} values per frame but '${this.#first}' has ${this.#dim}; all embeddings must come from one model`,
      );
    }
    if (timesMs.length !== rows) {
      throw new UserError(
        `Frame embedding '${where}' has ${rows} frames but ${timesMs.length} times`,
      );
    }
    for (let k = 0; k < data.length; k++) {
      if (!Number.isFinite(data[k]!)) {
        throw new UserError(`Frame embedding '${where}' contains a non-finite value at index ${k}`);
      }
    }
    for (let k = 1; k < rows; k++) {
      if (!(timesMs[k]! > timesMs[k - 1]!)) {
        throw new UserError(`Frame embedding '${where}': frame times must increase (frame ${k})`);
      }
    }
    if (i === 0) this.#hop = medianHop(timesMs);
    const tail = Float64Array.from(
      { length: Math.min(2, rows) },
      (_, k) => timesMs[rows - Math.min(2, rows) + k]!,
    );
    this.files[i] = { ...at, frames: rows, tailMs: tail };
  }

  finish(source: string, modelSha256?: string, temp?: string): FrameTable {
    return {
      files: this.files as FrameRef[],
      dim: this.#dim,
      hopMs: this.#hop,
      source,
      modelSha256,
      close: () =>
        temp ? Deno.remove(temp, { recursive: true }).catch(() => {}) : Promise.resolve(),
    };
  }
}

/**
 * Reads one file's frames from disk (the only place the probe holds a
 * file's embeddings). A file changed since the index was opened is a
 * UserError naming it.
 */
export async function loadFrames(ref: FrameRef, dim: number): Promise<FileFrames> {
  const [arr, times] = [
    await readEmbeddingNpy(ref.dataPath),
    await readEmbeddingNpy(ref.timesPath),
  ];
  if (arr.shape[0] !== ref.frames || arr.shape[1] !== dim || times.data.length !== ref.frames) {
    throw new UserError(
      `Frame embedding '${ref.where}' changed while the probe was running (now [${
        arr.shape.join(", ")
      }], was [${ref.frames}, ${dim}])`,
    );
  }
  return {
    data: arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data),
    frames: ref.frames,
    timesMs: times.data instanceof Float64Array ? times.data : Float64Array.from(times.data),
  };
}

/** Indexes `DIR/<path>.npy` ([frames, dim]) and its `.times.npy` for every file. */
async function framesFromDir(dir: string, files: FileRef[]): Promise<FrameTable> {
  const table = new FrameTableBuilder(files.length);
  for (const [i, f] of files.entries()) {
    const found = await findNpy(dir, f.path);
    const arr = await readEmbeddingNpy(found);
    if (arr.shape.length !== 2) {
      throw new UserError(
        `Embedding '${found}' has shape [${
          arr.shape.join(", ")
        }]; the events probe needs frame embeddings (atst embed --frames)`,
      );
    }
    const timesPath = timesNpyPath(found);
    const times = await readEmbeddingNpy(timesPath).catch(() => {
      throw new UserError(`No frame times '${timesPath}' next to '${found}'`);
    });
    table.set(i, arr.data, times.data, arr.shape[0]!, {
      where: found,
      dataPath: found,
      timesPath,
    });
  }
  return table.finish(dir, await manifestSha(dir));
}

/**
 * Copies the frame records (`times_ms` and a nested `embedding`) of an
 * `embed --frames --format jsonl` file to `.npy` files in a temporary
 * folder, one record at a time, and indexes them.
 */
async function framesFromJsonl(file: string, files: FileRef[]): Promise<FrameTable> {
  const table = new FrameTableBuilder(files.length);
  const temp = await Deno.makeTempDir({ prefix: "atst-frames-" });
  try {
    const sha = await matchRecords(file, files, (rec) => {
      if (!Array.isArray(rec.v) || !Array.isArray(rec.v[0]) || !Array.isArray(rec.timesMs)) {
        throw new UserError(
          `Embeddings file '${file}' line ${rec.line} holds no frame embeddings (atst embed --frames --format jsonl)`,
        );
      }
    }, (i, rec, where) => {
      const rows = rec.v as number[][];
      const data = Float32Array.from(rows.flat());
      const times = Float64Array.from(rec.timesMs as number[]);
      const dataPath = join(temp, `${i}.npy`), timesPath = timesNpyPath(dataPath);
      table.set(i, data, times, rows.length, { where, dataPath, timesPath });
      // Synchronous: matchRecords hands records over one at a time, and none may pile up.
      const dim = data.length / rows.length;
      Deno.writeFileSync(dataPath, encodeNpy({ shape: [rows.length, dim], data }));
      Deno.writeFileSync(timesPath, encodeNpy({ shape: [times.length], data: times }));
    });
    return table.finish(file, sha, temp);
  } catch (err) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * Frame embeddings of `files` from a folder of `.npy` files or a `.jsonl`
 * file written by `atst embed --frames`.
 *
 * @example
 * ```ts
 * const table = await readFrameEmbeddings("emb/", set.files);
 * (await loadFrames(table.files[0], table.dim)).timesMs[0]; // 15 (ms, the first patch centre)
 * await table.close();
 * ```
 */
export async function readFrameEmbeddings(source: string, files: FileRef[]): Promise<FrameTable> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch {
    throw new UserError(`Embeddings '${source}' do not exist`);
  }
  if (!info.isDirectory && /\.csv$/i.test(source)) {
    throw new UserError(`Embeddings '${source}': the events probe reads .npy folders or .jsonl`);
  }
  return info.isDirectory ? framesFromDir(source, files) : framesFromJsonl(source, files);
}

/**
 * Frame embeddings of `files` computed with the checkpoint at `modelPath`
 * (lib/embed's frame mode), read from and written to the probe's cache;
 * with `cache: null`, to a temporary folder that `close()` removes.
 */
export async function frameEmbeddingsWithModel(
  modelPath: string,
  files: FileRef[],
  opts: ModelEmbeddingOptions,
): Promise<FrameTable> {
  const table = new FrameTableBuilder(files.length);
  const temp = opts.cache === null ? await Deno.makeTempDir({ prefix: "atst-frames-" }) : undefined;
  try {
    // Loaded here only: the model code is not needed to read frames from files.
    const { embedCached } = await import("../model_embeddings.ts");
    const { sha256 } = await embedCached(
      modelPath,
      files,
      { ...opts, cache: opts.cache ?? temp!, mode: "frames" },
      (i, v, cacheFile) => {
        table.set(i, v.data, v.timesMs!, v.timesMs!.length, {
          where: files[i]!.path,
          dataPath: cacheFile!,
          timesPath: timesNpyPath(cacheFile!),
        });
      },
    );
    return table.finish(`model ${modelPath}`, sha256, temp);
  } catch (err) {
    if (temp) await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw err;
  }
}
