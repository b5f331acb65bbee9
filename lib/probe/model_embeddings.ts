/**
 * Clip embeddings of a labeled set computed with a checkpoint (`atst probe
 * --model`), through lib/embed, with a per-file cache: one `.npy` per
 * (model, embedding settings, file content) under
 * `<cache>/<model sha256[:16]>-<settings hash>/<file sha256>.npy`, so
 * re-running a probe, or probing another labeled set over the same audio,
 * embeds nothing twice. Renaming or moving audio files keeps their cache
 * entries; editing a file or the model changes the key.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { decodeNpy, writeNpy } from "../io/npy.ts";
import { Progress } from "../io/progress.ts";
import { loadEncoder } from "../model/checkpoint.ts";
import { embedFiles, type EmbedOptions, embedSettings } from "../embed/embed_files.ts";
import { type EmbeddingTable, TableBuilder } from "./embeddings.ts";
import type { LabeledItem } from "./labeled_set.ts";

/** Options for {@link embedWithModel}. */
export interface ModelEmbeddingOptions {
  /** Cache folder, or null for no cache. */
  cache: string | null;
  quiet?: boolean;
  /** Passed to lib/embed (clip mode is forced). */
  embed?: Omit<EmbedOptions, "mode">;
}

async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Embeds every item's audio with the checkpoint at `modelPath` (reading
 * cached vectors where present). A missing or undecodable audio file is a
 * UserError (exit 2): a labeled set with holes cannot be evaluated as given.
 * Vectors computed before the failure stay cached.
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
  const model = await loadEncoder(modelPath);
  try {
    const settings = embedSettings(model, { ...opts.embed, mode: "clip" });
    const key = (await sha256Hex(JSON.stringify({ settings, mel: model.meta.mel }))).slice(0, 12);
    const dir = opts.cache === null
      ? null
      : join(opts.cache, `${model.meta.sha256.slice(0, 16)}-${key}`);
    const table = new TableBuilder(items.length);
    const todo: { index: number; cacheFile: string | null }[] = [];
    for (const [index, item] of items.entries()) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(item.resolved);
      } catch (err) {
        const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
        throw new UserError(`Cannot read '${item.path}': ${why}`);
      }
      const cacheFile = dir === null ? null : join(dir, `${await sha256Hex(bytes)}.npy`);
      const cached = cacheFile === null ? undefined : await readCached(cacheFile, settings.dim);
      if (cached) table.set(index, cached, item.path);
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
      await embedFiles(model, files, { ...opts.embed, mode: "clip" }, async (r) => {
        const { index, cacheFile } = todo[k++]!;
        if ("error" in r) {
          throw new UserError(`Cannot embed '${items[index]!.path}': ${r.error.reason}`);
        }
        if (!("clip" in r)) throw new Error("lib/embed returned frames in clip mode");
        table.set(index, r.clip, items[index]!.path);
        if (cacheFile !== null) await writeNpy(cacheFile, { shape: [r.clip.length], data: r.clip });
        progress.tick();
      });
      progress.done();
    }
    return table.finish(`model ${modelPath}`, model.meta.sha256);
  } finally {
    model.encoder.dispose();
  }
}

async function readCached(file: string, dim: number): Promise<Float32Array | undefined> {
  try {
    const arr = decodeNpy(await Deno.readFile(file), file);
    // A damaged or foreign entry is recomputed rather than trusted.
    return arr.data instanceof Float32Array && arr.data.length === dim ? arr.data : undefined;
  } catch {
    return undefined;
  }
}
