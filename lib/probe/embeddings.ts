/**
 * The clip embeddings of a labeled set, as a table in item order, from the
 * outputs of `atst embed` (the formats, writer and reader, are in
 * lib/embed/format.ts): a folder of `.npy` files mirroring the audio paths
 * (one 1-D float32 vector each, `DIR/embed.json` with the model hash), one
 * JSON Lines file (`--format jsonl`) or one CSV file (`--format csv`).
 *
 * @module
 */
import { resolve } from "node:path";
import { UserError } from "../errors.ts";
import { decodeNpy } from "../io/npy.ts";
import { embeddingRecords, headerSha, manifestSha, npyCandidates } from "../embed/format.ts";
import type { LabeledItem } from "./labeled_set.ts";

/** Embeddings of a labeled set, rows in item order. */
export interface EmbeddingTable {
  /** `[n, dim]` row-major. */
  x: Float32Array;
  n: number;
  dim: number;
  /** Where they came from (folder, file or model). */
  source: string;
  /** sha256 of the model that made them, when known. */
  modelSha256?: string;
}

/** Fills rows of a growing table, checking dimensions and finiteness. */
export class TableBuilder {
  #x: Float32Array | undefined;
  #dim = 0;
  #first = "";

  constructor(readonly n: number) {}

  /** Stores row `i` (taken from `where`, named in errors). */
  set(i: number, v: ArrayLike<number>, where: string): void {
    if (!this.#x) {
      if (v.length === 0) throw new UserError(`Embedding '${where}' is empty`);
      this.#dim = v.length;
      this.#first = where;
      this.#x = new Float32Array(this.n * this.#dim);
    }
    if (v.length !== this.#dim) {
      throw new UserError(
        `Embedding '${where}' has ${v.length} values but '${this.#first}' has ${this.#dim}; all embeddings must come from one model and protocol`,
      );
    }
    for (let k = 0; k < v.length; k++) {
      if (!Number.isFinite(v[k]!)) {
        throw new UserError(`Embedding '${where}' contains a non-finite value at index ${k}`);
      }
    }
    this.#x.set(v, i * this.#dim);
  }

  /** The finished table. */
  finish(source: string, modelSha256?: string): EmbeddingTable {
    return { x: this.#x ?? new Float32Array(0), n: this.n, dim: this.#dim, source, modelSha256 };
  }
}

function asClipVector(shape: number[], data: ArrayLike<number>, where: string): ArrayLike<number> {
  const big = shape.filter((s) => s !== 1);
  if (big.length > 1) {
    throw new UserError(
      `Embedding '${where}' has shape [${
        shape.join(", ")
      }]; the probe needs one clip embedding per file (embed at clip level)`,
    );
  }
  return data;
}

/**
 * The `.npy` file holding `path`'s embedding under `dir` (see
 * {@link npyCandidates}); UserError when there is none.
 */
export async function findNpy(dir: string, path: string): Promise<string> {
  for (const rel of npyCandidates(path)) {
    const p = resolve(dir, rel);
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch { /* try the next candidate */ }
  }
  throw new UserError(
    `No embedding for '${path}' in '${dir}' (looked for ${npyCandidates(path)[0]})`,
  );
}

/** Reads and decodes one `.npy` embedding file (UserError naming it when unreadable). */
export async function readEmbeddingNpy(file: string): Promise<ReturnType<typeof decodeNpy>> {
  try {
    return decodeNpy(await Deno.readFile(file), file);
  } catch (err) {
    throw new UserError(`Cannot read embedding '${file}': ${(err as Error).message}`);
  }
}

/** Reads `DIR/<path>.npy` for every item (see {@link npyCandidates}). */
export async function embeddingsFromDir(
  dir: string,
  items: LabeledItem[],
): Promise<EmbeddingTable> {
  const table = new TableBuilder(items.length);
  for (const [i, item] of items.entries()) {
    const found = await findNpy(dir, item.path);
    const arr = await readEmbeddingNpy(found);
    table.set(i, asClipVector(arr.shape, arr.data, found), found);
  }
  return table.finish(dir, await manifestSha(dir));
}

function normPath(p: string): string {
  return p.replaceAll("\\", "/").replace(/^\.\//, "");
}

/** A data record of a JSONL or CSV embeddings file. */
export type DataRecord = { line: number; path: string; v: unknown; timesMs?: unknown };

/**
 * Streams the records of an `embed --format jsonl` (or `--format csv`) file
 * and hands each item its record: the one whose `path` equals the item's
 * path (as written, or resolved), or, failing that, the one record whose
 * path ends with it. `check` sees every data record first (to refuse the
 * wrong kind). Returns the model hash from the header, if any.
 */
export async function matchRecords(
  file: string,
  items: { path: string; resolved: string }[],
  check: (rec: DataRecord) => void,
  take: (i: number, rec: DataRecord, where: string) => void,
): Promise<string | undefined> {
  const want = new Map<string, number>();
  items.forEach((it, i) => {
    want.set(normPath(it.path), i);
    want.set(normPath(it.resolved), i);
  });
  const done = new Uint8Array(items.length);
  const unmatched: DataRecord[] = [];
  let sha: string | undefined;
  try {
    for await (const rec of embeddingRecords(file)) {
      if ("header" in rec) {
        sha ??= headerSha(rec.header);
        continue;
      }
      check(rec);
      const p = normPath(rec.path);
      const i = want.get(p) ?? want.get(normPath(resolve(p)));
      if (i === undefined) unmatched.push({ ...rec, path: p });
      else if (!done[i]) {
        take(i, rec, `${file}:${rec.line}`);
        done[i] = 1;
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`Embeddings file '${file}' does not exist`);
    }
    throw err;
  }
  for (const [i, item] of items.entries()) {
    if (done[i]) continue;
    const tail = "/" + normPath(item.path).replace(/^(\.\.\/)+/, "");
    const hits = unmatched.filter((u) => ("/" + u.path).endsWith(tail));
    if (hits.length !== 1) {
      throw new UserError(
        hits.length
          ? `Embeddings file '${file}' has ${hits.length} records matching '${item.path}'`
          : `No embedding for '${item.path}' in '${file}'`,
      );
    }
    take(i, hits[0]!, `${file} (${hits[0]!.path})`);
  }
  return sha;
}

/**
 * Reads the clip embeddings of `items` from an `embed --format jsonl` (or
 * `--format csv`) file, matched as {@link matchRecords} does.
 */
export async function embeddingsFromJsonl(
  file: string,
  items: LabeledItem[],
): Promise<EmbeddingTable> {
  const table = new TableBuilder(items.length);
  const sha = await matchRecords(file, items, (rec) => {
    if (!Array.isArray(rec.v)) {
      throw new UserError(`Embeddings file '${file}' line ${rec.line} has no 'embedding' array`);
    }
    if (rec.v.length && Array.isArray(rec.v[0])) {
      throw new UserError(
        `Embeddings file '${file}' line ${rec.line} holds frame embeddings; the probe needs clip embeddings`,
      );
    }
  }, (i, rec, where) => table.set(i, rec.v as number[], where));
  return table.finish(file, sha);
}

/** Reads embeddings from a folder of .npy files, or a .jsonl or .csv file. */
export async function readEmbeddings(
  source: string,
  items: LabeledItem[],
): Promise<EmbeddingTable> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch {
    throw new UserError(`Embeddings '${source}' do not exist`);
  }
  return info.isDirectory ? embeddingsFromDir(source, items) : embeddingsFromJsonl(source, items);
}
