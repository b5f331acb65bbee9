/**
 * The embedding files of `atst embed`, writer and reader side by side (the
 * sink in sink.ts writes with these; lib/probe/embeddings.ts reads with them):
 *
 * - npy: `DIR/<rel path without extension>.npy` (lib/audio/inputs.ts
 *   `mirrorPath`), float32: a clip embedding is 1-D [dim]; frames are
 *   [frames, dim] with the patch-centre times in `<name>.times.npy`
 *   (float64, ms). One `DIR/embed.json` holds the metadata (model sha256
 *   and config, settings, backend, version).
 * - jsonl: a header object (the same metadata), then one object per file:
 *   `{"path", "embedding": [...]}` or, for frames,
 *   `{"path", "times_ms": [...], "embedding": [[...], ...]}`.
 * - csv: a header row `path,e0,...` (frames: `path,time_ms,e0,...`), then
 *   one row per file (per frame).
 *
 * Every file is written atomically (temp file, then rename). An ATST-Frame
 * timestamp embedding arrives as a stream of chunks and is written as it
 * comes, in the same formats, so an hour of audio is never held.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { UserError } from "../errors.ts";
import { mirrorPath } from "../audio/inputs.ts";
import { encodeNpy, npyHeader } from "../io/npy.ts";
import { openAtomic, writeFileAtomic } from "../io/atomic.ts";
import type { EmbedResult } from "./embed_files.ts";
import type { FrameStream } from "./frame_pooling.ts";

/** The metadata file next to npy outputs. */
export const MANIFEST = "embed.json";

// ---- writing ----

/** Writes one successful result as .npy (and .times.npy for frames) under `dir`. */
export async function writeNpyResult(dir: string, r: EmbedResult): Promise<string> {
  const path = mirrorPath(dir, r.file.rel);
  if ("clip" in r) {
    await writeFileAtomic(path, encodeNpy({ shape: [r.clip.length], data: r.clip }));
  } else if ("frames" in r || "stream" in r) {
    const f = "frames" in r ? r.frames : r.stream;
    await writeFileAtomic(timesNpyPath(path), encodeNpy({ shape: [f.frames], data: f.timesMs }));
    if ("frames" in r) {
      await writeFileAtomic(path, encodeNpy({ shape: [f.frames, f.dim], data: r.frames.data }));
    } else await writeNpyStream(path, r.stream);
  }
  return path;
}

/** The `.times.npy` beside a frame embedding's `.npy`: its rows' times in milliseconds. */
export function timesNpyPath(npyPath: string): string {
  return npyPath.replace(/\.npy$/, ".times.npy");
}

/** Writes a frame stream as one [frames, dim] float32 .npy, a chunk at a time (atomically). */
async function writeNpyStream(path: string, f: FrameStream): Promise<void> {
  const out = await openAtomic(path);
  try {
    const w = out.file.writable.getWriter();
    await w.write(npyHeader([f.frames, f.dim], "Float32Array"));
    let rows = 0;
    for await (const part of f.chunks) {
      rows += part.length / f.dim;
      await w.write(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
    if (rows !== f.frames) throw new Error(`Frame stream gave ${rows} rows, expected ${f.frames}`);
    await w.close();
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

/** Writes `DIR/embed.json` (atomically). */
export async function writeManifest(dir: string, meta: object): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(meta, null, 2) + "\n");
}

/**
 * Shortest decimal that reads back as the same float32 (keeps text outputs small).
 *
 * @example
 * ```ts
 * formatF32(Math.fround(0.1)); // "0.1"
 * ```
 */
export function formatF32(v: number): string {
  if (!Number.isFinite(v)) return "null";
  const target = Math.fround(v);
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === target) return String(s);
  }
  return String(Number(v.toPrecision(9)));
}

function row(values: Float32Array, start: number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += (i ? "," : "") + formatF32(values[start + i]!);
  return s;
}

/** The JSON Lines record of one successful result (no trailing newline). */
export function jsonlRecord(r: EmbedResult): string {
  const path = JSON.stringify(r.file.path);
  if ("clip" in r) return `{"path":${path},"embedding":[${row(r.clip, 0, r.clip.length)}]}`;
  if (!("frames" in r)) throw new Error("no embedding in a failed result");
  const f = r.frames;
  const rows = Array.from({ length: f.frames }, (_, t) => `[${row(f.data, t * f.dim, f.dim)}]`);
  return `{"path":${path},"times_ms":[${Array.from(f.timesMs).join(",")}],"embedding":[${
    rows.join(",")
  }]}`;
}

/**
 * The JSON Lines record of a frame stream, in pieces (the last ends the
 * line): the same record {@link jsonlRecord} writes for frames.
 */
export async function* jsonlStreamRecord(
  r: { file: { path: string }; stream: FrameStream },
): AsyncGenerator<string> {
  const f = r.stream;
  yield `{"path":${JSON.stringify(r.file.path)},"times_ms":[${
    Array.from(f.timesMs).join(",")
  }],"embedding":[`;
  let t = 0;
  for await (const part of f.chunks) {
    const rows: string[] = [];
    for (let i = 0; i < part.length; i += f.dim, t++) {
      rows.push(`${t ? "," : ""}[${row(part, i, f.dim)}]`);
    }
    yield rows.join("");
  }
  yield "]}\n";
}

/** CSV rows of a frame stream, a chunk at a time (one row per frame, as {@link csvRows}). */
export async function* csvStreamRows(
  r: { file: { path: string }; stream: FrameStream },
): AsyncGenerator<string> {
  const path = csvField(r.file.path), f = r.stream;
  let t = 0;
  for await (const part of f.chunks) {
    let out = "";
    for (let i = 0; i < part.length; i += f.dim, t++) {
      out += `${path},${f.timesMs[t]},${row(part, i, f.dim)}\n`;
    }
    yield out;
  }
}

/** CSV header for `dim` values (frames add a time column). */
export function csvHeader(dim: number, frames: boolean): string {
  const cols = [
    "path",
    ...(frames ? ["time_ms"] : []),
    ...Array.from({ length: dim }, (_, i) => `e${i}`),
  ];
  return cols.join(",");
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV rows of one successful result (one per file, or one per frame), each ending in a newline. */
export function csvRows(r: EmbedResult): string {
  const path = csvField(r.file.path);
  if ("clip" in r) return `${path},${row(r.clip, 0, r.clip.length)}\n`;
  if (!("frames" in r)) throw new Error("no embedding in a failed result");
  const f = r.frames;
  let out = "";
  for (let t = 0; t < f.frames; t++) {
    out += `${path},${f.timesMs[t]},${row(f.data, t * f.dim, f.dim)}\n`;
  }
  return out;
}

// ---- reading ----

/**
 * Names under an npy folder to try for a file's embedding, most specific
 * first: the path with and without its extension, then with leading folders
 * dropped (CSV paths may carry a prefix the embedded paths lack).
 *
 * @example
 * ```ts
 * npyCandidates("data/a/x.wav").slice(0, 2); // ["data/a/x.wav.npy", "data/a/x.npy"]
 * ```
 */
export function npyCandidates(path: string): string[] {
  const parts = path.replaceAll("\\", "/").split("/").filter((p) => p && p !== ".");
  const out: string[] = [];
  for (let k = 0; k < parts.length; k++) {
    const rel = parts.slice(k).join("/");
    out.push(`${rel}.npy`);
    const mirrored = mirrorPath("", rel).replaceAll("\\", "/");
    if (mirrored !== `${rel}.npy`) out.push(mirrored);
  }
  return out;
}

/** The parsed `DIR/embed.json`, or undefined when there is none (or it is not JSON). */
export async function readManifest(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(resolve(dir, MANIFEST)));
  } catch {
    return undefined;
  }
}

/** The model hash from the manifest next to npy outputs (or an older name of it), if any. */
export async function manifestSha(dir: string): Promise<string | undefined> {
  for (const name of [MANIFEST, "manifest.json", "_meta.json"]) {
    try {
      const sha = headerSha(JSON.parse(await Deno.readTextFile(resolve(dir, name))));
      if (sha) return sha;
    } catch { /* no manifest */ }
  }
  return undefined;
}

/** A 64-hex model hash under a key like sha256 / model_sha256 / modelSha256 in a header object. */
export function headerSha(obj: unknown, depth = 0): string | undefined {
  if (!obj || typeof obj !== "object" || depth > 2) return undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === "string" && /sha256/i.test(k) && /^[0-9a-f]{64}$/i.test(v)) return v;
  }
  for (const v of Object.values(obj)) {
    const s = headerSha(v, depth + 1);
    if (s) return s;
  }
  return undefined;
}

async function* lines(path: string): AsyncGenerator<string> {
  const file = await Deno.open(path);
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of file.readable) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  buf += dec.decode();
  if (buf) yield buf;
}

/** One line of a JSONL or CSV embeddings file: the header, or one file's values. */
export type EmbeddingRecord =
  | { line: number; header: unknown }
  | { line: number; path: string; v: unknown; timesMs?: unknown };

/**
 * The header and records of a JSONL or CSV embeddings file (by its
 * extension), one at a time. Frame-level CSV is refused here; frame-level
 * JSONL records come through with nested arrays in `v`.
 */
export async function* embeddingRecords(file: string): AsyncGenerator<EmbeddingRecord> {
  const csv = /\.csv$/i.test(file);
  let lineNo = 0;
  for await (const line of lines(file)) {
    lineNo++;
    if (!line.trim()) continue;
    if (csv) {
      if (lineNo === 1) {
        if (/(^|,)time_ms(,|$)/.test(line)) {
          throw new UserError(
            `Embeddings file '${file}' holds frame embeddings; the probe needs clip embeddings`,
          );
        }
        continue;
      }
      // Paths may be quoted; the numbers never are.
      const [path, rest] = line.startsWith('"')
        ? parseQuotedFirst(line)
        : [line.slice(0, line.indexOf(",")), line.slice(line.indexOf(",") + 1)];
      yield { line: lineNo, path, v: rest.split(",").map(Number) };
      continue;
    }
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new UserError(`Embeddings file '${file}' line ${lineNo} is not JSON`);
    }
    if (!Array.isArray(rec.embedding) && (lineNo === 1 || !("path" in rec))) {
      yield { line: lineNo, header: rec };
    } else {
      const path = String(rec.path ?? "");
      yield "times_ms" in rec
        ? { line: lineNo, path, v: rec.embedding, timesMs: rec.times_ms }
        : { line: lineNo, path, v: rec.embedding };
    }
  }
}

function parseQuotedFirst(line: string): [string, string] {
  let i = 1, out = "";
  for (; i < line.length; i++) {
    if (line[i] === '"' && line[i + 1] === '"') {
      out += '"';
      i++;
    } else if (line[i] === '"') break;
    else out += line[i];
  }
  return [out, line.slice(i + 2)];
}
