/**
 * Output of `atst embed`, one writer per format (readers: lib/probe/embeddings.ts):
 *
 * - npy: `DIR/<rel path without extension>.npy`, float32 — a clip
 *   embedding is 1-D [dim]; frames are [frames, dim] with the patch-centre
 *   times in `<name>.times.npy` (float64, ms). One `DIR/embed.json` holds
 *   the metadata (model sha256 and config, settings, backend, version).
 * - jsonl: a header object (the same metadata), then one object per file:
 *   `{"path", "embedding": [...]}` or, for frames,
 *   `{"path", "times_ms": [...], "embedding": [[...], ...]}`.
 * - csv: a header row `path,e0,...` (frames: `path,time_ms,e0,...`), then
 *   one row per file (per frame).
 *
 * Every file is written atomically (temp file, then rename).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { encodeNpy } from "../io/npy.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { EmbedResult } from "./embed_files.ts";

/** Where a file's clip or frame embedding goes under `dir`. */
export function npyPath(dir: string, rel: string): string {
  const clean = rel.replaceAll("\\", "/").replace(/^(\.\.\/|\/)+/, "");
  const dot = clean.lastIndexOf(".");
  const stem = dot > clean.lastIndexOf("/") + 1 ? clean.slice(0, dot) : clean;
  return join(dir, `${stem}.npy`);
}

/** Writes one successful result as .npy (and .times.npy for frames). */
export async function writeNpyResult(dir: string, r: EmbedResult): Promise<string> {
  const path = npyPath(dir, r.file.rel);
  if ("clip" in r) {
    await writeFileAtomic(path, encodeNpy({ shape: [r.clip.length], data: r.clip }));
  } else if ("frames" in r) {
    const f = r.frames;
    await writeFileAtomic(
      path.replace(/\.npy$/, ".times.npy"),
      encodeNpy({ shape: [f.frames], data: f.timesMs }),
    );
    await writeFileAtomic(path, encodeNpy({ shape: [f.frames, f.dim], data: f.data }));
  }
  return path;
}

/** Shortest decimal that reads back as the same float32 (keeps text outputs small). */
export function f32(v: number): string {
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
  for (let i = 0; i < n; i++) s += (i ? "," : "") + f32(values[start + i]!);
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

/** Writes `DIR/embed.json` (atomically). */
export async function writeManifest(dir: string, meta: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(join(dir, "embed.json"), JSON.stringify(meta, null, 2) + "\n");
}

/** Ensures the folder of `path` exists (for streaming writers). */
export async function ensureDir(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
}
