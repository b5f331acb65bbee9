/**
 * The frame embeddings of a strong-label set, one `[frames, dim]` block per
 * file with the time of every frame: from the outputs of `atst embed
 * --frames` (a folder of `<path>.npy` + `<path>.times.npy`, or a
 * `--format jsonl` file with `times_ms`), or computed with a checkpoint
 * through the probe's embedding cache (model_embeddings.ts).
 *
 * @module
 */
import { UserError } from "../../errors.ts";
import { manifestSha } from "../../embed/format.ts";
import { findNpy, matchRecords, readEmbeddingNpy } from "../embeddings.ts";
import { embedCached, type ModelEmbeddingOptions } from "../model_embeddings.ts";

/** One file's frames. */
export interface FileFrames {
  /** `[frames, dim]` row-major. */
  data: Float32Array;
  frames: number;
  /** Frame centres in milliseconds, increasing. */
  timesMs: Float64Array;
}

/** Frame embeddings of every file of a set, in file order. */
export interface FrameTable {
  files: FileFrames[];
  dim: number;
  source: string;
  modelSha256?: string;
}

type FileRef = { path: string; resolved: string };

/** Collects per-file frames, checking widths, lengths and finiteness. */
class FrameTableBuilder {
  readonly files: (FileFrames | undefined)[];
  #dim = 0;
  #first = "";

  constructor(n: number) {
    this.files = new Array(n);
  }

  set(i: number, data: ArrayLike<number>, timesMs: ArrayLike<number>, rows: number, where: string) {
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
    this.files[i] = {
      data: Float32Array.from(data),
      frames: rows,
      timesMs: Float64Array.from(timesMs),
    };
  }

  finish(source: string, modelSha256?: string): FrameTable {
    return { files: this.files as FileFrames[], dim: this.#dim, source, modelSha256 };
  }
}

/** Reads `DIR/<path>.npy` ([frames, dim]) and its `.times.npy` for every file. */
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
    const timesPath = found.replace(/\.npy$/, ".times.npy");
    const times = await readEmbeddingNpy(timesPath).catch(() => {
      throw new UserError(`No frame times '${timesPath}' next to '${found}'`);
    });
    table.set(i, arr.data, times.data, arr.shape[0]!, found);
  }
  return table.finish(dir, await manifestSha(dir));
}

/** Reads frame records (`times_ms` and a nested `embedding`) from an `embed --frames --format jsonl` file. */
async function framesFromJsonl(file: string, files: FileRef[]): Promise<FrameTable> {
  const table = new FrameTableBuilder(files.length);
  const sha = await matchRecords(file, files, (rec) => {
    if (!Array.isArray(rec.v) || !Array.isArray(rec.v[0]) || !Array.isArray(rec.timesMs)) {
      throw new UserError(
        `Embeddings file '${file}' line ${rec.line} holds no frame embeddings (atst embed --frames --format jsonl)`,
      );
    }
  }, (i, rec, where) => {
    const rows = rec.v as number[][];
    table.set(i, rows.flat(), rec.timesMs as number[], rows.length, where);
  });
  return table.finish(file, sha);
}

/**
 * Frame embeddings of `files` from a folder of `.npy` files or a `.jsonl`
 * file written by `atst embed --frames`.
 *
 * @example
 * ```ts
 * const table = await readFrameEmbeddings("emb/", set.files);
 * table.files[0].timesMs[0]; // 15 (ms, the first patch centre)
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
 * (lib/embed's frame mode), read from and written to the probe's cache.
 */
export async function frameEmbeddingsWithModel(
  modelPath: string,
  files: FileRef[],
  opts: ModelEmbeddingOptions,
): Promise<FrameTable> {
  const table = new FrameTableBuilder(files.length);
  const { sha256 } = await embedCached(modelPath, files, { ...opts, mode: "frames" }, (i, v) => {
    table.set(i, v.data, v.timesMs!, v.timesMs!.length, files[i]!.path);
  });
  return table.finish(`model ${modelPath}`, sha256);
}
