/**
 * Clip or frame embeddings of a labeled set computed with a checkpoint
 * (`atst probe --model`), through lib/embed, with a per-file cache: one
 * `.npy` per (model, embedding settings, file content) (frames also a
 * `.times.npy`) under
 * `<cache>/<model sha256[:16]>-<settings hash>/<file sha256>.npy`, so
 * re-running a probe, or probing another labeled set over the same audio,
 * embeds nothing twice. Renaming or moving audio files keeps their cache
 * entries; editing a file or the model changes the key.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { decodeNpy, writeNpy } from "../io/npy.ts";
import { Progress } from "../io/progress.ts";
import { loadEncoder } from "../model/checkpoint.ts";
import {
  collectFrames,
  embedFiles,
  type EmbedOptions,
  embedSettings,
} from "../embed/embed_files.ts";
import { timesNpyPath } from "../embed/format.ts";
import { type EmbeddingTable, TableBuilder } from "./embeddings.ts";
import type { LabeledItem } from "./labeled_set.ts";

/** Options for {@link embedWithModel}. */
export interface ModelEmbeddingOptions {
  /** Cache folder, or null for no cache. */
  cache: string | null;
  quiet?: boolean;
  /** Passed to lib/embed (the mode is set by the caller). */
  embed?: Omit<EmbedOptions, "mode">;
}

async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 (hex) of the file at `path`, read a MiB at a time (the same digest as of its bytes). */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (let n; (n = await file.read(buf)) !== null;) hash.update(buf.subarray(0, n));
  return hash.digest("hex");
}

/** One file's vector (clip) or `[frames, dim]` rows with patch-centre times (frames). */
export interface CachedVector {
  data: Float32Array;
  /** Frames only: one time per row, in milliseconds. */
  timesMs?: Float64Array;
}

/**
 * Embeds every item's audio with the checkpoint at `modelPath` in `mode`,
 * reading cached results where present, and hands each to `take` (in no
 * particular order) with the cache file it is (or, right after `take`
 * returns, will be) stored in. A missing or undecodable audio file is a
 * UserError (exit 2). Results computed before a failure stay cached.
 * Returns the model's sha256 and the width of one vector (or frame).
 */
export async function embedCached(
  modelPath: string,
  items: { path: string; resolved: string }[],
  opts: ModelEmbeddingOptions & { mode: "clip" | "frames" },
  take: (index: number, v: CachedVector, cacheFile: string | null) => void,
): Promise<{ sha256: string; dim: number }> {
  const model = await loadEncoder(modelPath);
  const mode = opts.mode;
  try {
    const settings = embedSettings(model, { ...opts.embed, mode });
    const key = (await sha256Hex(JSON.stringify({ settings, mel: model.meta.mel }))).slice(0, 12);
    const dir = opts.cache === null
      ? null
      : join(opts.cache, `${model.meta.sha256.slice(0, 16)}-${key}`);
    const todo: { index: number; cacheFile: string | null }[] = [];
    for (const [index, item] of items.entries()) {
      let digest: string;
      try {
        digest = await fileSha256(item.resolved);
      } catch (err) {
        const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
        throw new UserError(`Cannot read '${item.path}': ${why}`);
      }
      const cacheFile = dir === null ? null : join(dir, `${digest}.npy`);
      const cached = cacheFile === null ? undefined : await readCached(cacheFile, settings.dim);
      if (cached) take(index, cached, cacheFile);
      else todo.push({ index, cacheFile });
    }
    if (todo.length) {
      const progress = new Progress({
        label: "embed",
        total: todo.length,
        enabled: !opts.quiet,
        logEverySeconds: 15,
      });
      const files = todo.map(({ index }) => ({
        path: items[index]!.resolved,
        rel: items[index]!.path,
      }));
      let k = 0;
      await embedFiles(model, files, { ...opts.embed, mode }, async (r) => {
        const { index, cacheFile } = todo[k++]!;
        if ("error" in r) {
          throw new UserError(`Cannot embed '${items[index]!.path}': ${r.error.reason}`);
        }
        let v: CachedVector;
        if ("clip" in r) v = { data: r.clip };
        else {
          // An ATST-Frame model streams its frames; the probe needs them all.
          const f = "frames" in r ? r.frames : await collectFrames(r.stream);
          v = { data: f.data, timesMs: f.timesMs };
        }
        take(index, v, cacheFile);
        if (cacheFile !== null) await writeCached(cacheFile, v, settings.dim);
        progress.tick();
      });
      progress.done();
    }
    return { sha256: model.meta.sha256, dim: settings.dim };
  } finally {
    model.encoder.dispose();
  }
}

/**
 * Clip embeddings of every item computed with the checkpoint at
 * `modelPath` (see {@link embedCached}).
 *
 * @example
 * ```ts
 * const table = await embedWithModel("atst_small.ckpt", set.items, { cache: ".atst-cache" });
 * ```
 */
export async function embedWithModel(
  modelPath: string,
  items: LabeledItem[],
  opts: ModelEmbeddingOptions,
): Promise<EmbeddingTable> {
  const table = new TableBuilder(items.length);
  const { sha256 } = await embedCached(
    modelPath,
    items,
    { ...opts, mode: "clip" },
    (i, v) => table.set(i, v.data, items[i]!.path),
  );
  return table.finish(`model ${modelPath}`, sha256);
}

async function writeCached(file: string, v: CachedVector, dim: number): Promise<void> {
  if (v.timesMs) {
    await writeNpy(timesNpyPath(file), { shape: [v.timesMs.length], data: v.timesMs });
    await writeNpy(file, { shape: [v.data.length / dim, dim], data: v.data });
  } else await writeNpy(file, { shape: [v.data.length], data: v.data });
}

async function readCached(file: string, dim: number): Promise<CachedVector | undefined> {
  try {
    const arr = decodeNpy(await Deno.readFile(file), file);
    // A damaged or foreign entry is recomputed rather than trusted.
    if (!(arr.data instanceof Float32Array)) return undefined;
    if (arr.shape.length === 1) return arr.data.length === dim ? { data: arr.data } : undefined;
    const times = decodeNpy(await Deno.readFile(timesNpyPath(file)), file);
    const ok = arr.shape.length === 2 && arr.shape[1] === dim &&
      times.data instanceof Float64Array && times.data.length === arr.shape[0];
    return ok ? { data: arr.data, timesMs: times.data as Float64Array } : undefined;
  } catch {
    return undefined;
  }
}
