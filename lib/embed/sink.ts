/**
 * Where `atst embed` puts its results (the formats are in format.ts, next to
 * their reader): one `.npy` per input mirrored under a folder plus its
 * `embed.json`, or one JSON Lines / CSV stream to a file or stdout. The
 * sink writes the header with the resolved configuration, refuses to mix
 * two runs in one folder with --skip-existing, and writes every file
 * atomically.
 *
 * @module
 */
import { resolve } from "node:path";
import { type InputFile, planOutputs } from "../audio/inputs.ts";
import { type InputError, UserError } from "../errors.ts";
import { openTextSink, type TextSink } from "../io/text_sink.ts";
import type { EmbedModel, EmbedResult, EmbedSettings } from "./embed_files.ts";
import {
  csvHeader,
  csvRows,
  csvStreamRows,
  jsonlRecord,
  jsonlStreamRecord,
  MANIFEST,
  readManifest,
  writeManifest,
  writeNpyResult,
} from "./format.ts";

/** The output formats. */
export const EMBED_FORMATS = ["npy", "jsonl", "csv"] as const;

/** One of {@link EMBED_FORMATS}. */
export type EmbedFormat = typeof EMBED_FORMATS[number];

/** The metadata of one run: `embed.json`, or the first JSON Lines record. */
export interface EmbedHeader {
  /** atst version. */
  atst: string;
  kind: "clip embeddings" | "frame embeddings";
  model: {
    path: string;
    sha256: string;
    source: string;
    encoder: EmbedModel["meta"]["encoder"];
    trainCropSeconds: number;
  };
  settings: EmbedSettings;
  mel: EmbedModel["meta"]["mel"];
  backend: string;
  /** Frames only: patch hop and the first patch centre. */
  frameHopMs?: number;
  frameOffsetMs?: number;
  /**
   * ATST-Frame frames only: frames per chunk (1001). Each chunk restarts the
   * tokens, so `times_ms` are (chunkFrames i + 4 k + 1.5) * 10, not 40 k.
   */
  frameChunkFrames?: number;
}

/**
 * The header for embedding with `model` at `settings`.
 *
 * @example
 * ```ts
 * const header = embedHeader(model, settings, { modelPath, backend: "cpu", version: "0.1.0" });
 * ```
 */
export function embedHeader(
  model: EmbedModel,
  settings: EmbedSettings,
  run: { modelPath: string; backend: string; version: string },
): EmbedHeader {
  const { meta } = model;
  return {
    atst: run.version,
    kind: settings.mode === "clip" ? "clip embeddings" : "frame embeddings",
    model: {
      path: resolve(run.modelPath),
      sha256: meta.sha256,
      source: meta.source,
      encoder: meta.encoder,
      trainCropSeconds: meta.trainCropSeconds,
    },
    settings,
    mel: meta.mel,
    backend: run.backend,
    // Patches are 4 frames of 10 ms; the first centre falls between frames 1 and 2.
    ...(settings.mode === "frames" ? { frameHopMs: 40, frameOffsetMs: 15 } : {}),
    ...(settings.mode === "frames" && meta.encoder.family === "frame"
      ? { frameChunkFrames: settings.chunkFrames }
      : {}),
  };
}

/** Where the embeddings of one run go. */
export interface EmbedSink {
  /**
   * The inputs still to embed: for npy, each mirrored to its own file (two
   * that would share one are errors) and, with `skipExisting`, those whose
   * file exists left out after checking that the folder holds this same run.
   */
  select(
    files: InputFile[],
    opts?: { skipExisting?: boolean },
  ): Promise<{ files: InputFile[]; errors: InputError[]; skipped: number }>;
  /** Writes one successful result. */
  write(r: EmbedResult): Promise<void>;
  /** Finishes: the manifest (npy) or the renamed stream file. */
  close(): Promise<void>;
  /** Gives up: a stream file's temporary is removed (written .npy files stay). */
  abort(): Promise<void>;
}

/** Options of {@link openEmbedSink}. */
export interface EmbedSinkOptions {
  format: EmbedFormat;
  /**
   * npy: the folder (required). jsonl/csv: a file ending in `.jsonl`/`.csv`,
   * any other path is a folder for `embeddings.F`; none is stdout.
   */
  out?: string;
}

/**
 * Opens the outputs of a run; a stream starts with its header at once.
 *
 * @example
 * ```ts
 * const sink = await openEmbedSink(header, { format: "npy", out: "emb" });
 * const { files } = await sink.select(inputs, { skipExisting: true });
 * await embedFiles(model, files, opts, (r) => "error" in r ? undefined : sink.write(r));
 * await sink.close();
 * ```
 */
export async function openEmbedSink(
  header: EmbedHeader,
  opts: EmbedSinkOptions,
): Promise<EmbedSink> {
  const { format, out } = opts;
  if (format === "npy") {
    if (out === undefined) throw new UserError("Format npy needs --out DIR");
    return {
      async select(files, { skipExisting = false } = {}) {
        if (skipExisting) await assertSameRun(out, header);
        const plan = await planOutputs(files, out, { skipExisting });
        return { files: plan.jobs, errors: plan.errors, skipped: plan.skipped };
      },
      write: async (r) => void await writeNpyResult(out, r),
      close: () => writeManifest(out, header),
      abort: async () => {},
    };
  }
  const file = out === undefined
    ? undefined
    : out.endsWith(`.${format}`)
    ? resolve(out)
    : resolve(out, `embeddings.${format}`);
  const text: TextSink = await openTextSink(file);
  const frames = header.settings.mode === "frames";
  await text.write(
    format === "jsonl"
      ? JSON.stringify(header) + "\n"
      : csvHeader(header.settings.dim, frames) + "\n",
  );
  return {
    select(files, { skipExisting = false } = {}) {
      if (skipExisting) throw new UserError("Flag --skip-existing needs --out DIR with npy output");
      return Promise.resolve({ files, errors: [], skipped: 0 });
    },
    async write(r) {
      if (!("stream" in r)) {
        return await text.write(format === "jsonl" ? jsonlRecord(r) + "\n" : csvRows(r));
      }
      for await (const piece of format === "jsonl" ? jsonlStreamRecord(r) : csvStreamRows(r)) {
        await text.write(piece);
      }
    },
    close: () => text.close(),
    abort: () => text.abort(),
  };
}

/**
 * With --skip-existing, refuses to mix outputs of another model or other
 * settings into `dir` (its embed.json says what is there).
 */
async function assertSameRun(dir: string, header: EmbedHeader): Promise<void> {
  const prev = await readManifest(dir) as
    | { model?: { sha256?: string }; settings?: object }
    | undefined;
  if (prev === undefined) return; // nothing there yet
  if (
    prev.model?.sha256 !== header.model.sha256 ||
    JSON.stringify(prev.settings) !== JSON.stringify(header.settings)
  ) {
    throw new UserError(
      `Folder '${dir}' holds embeddings from another model or other settings (see its ${MANIFEST}); use another --out`,
    );
  }
}
