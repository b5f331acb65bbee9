/**
 * Audio files -> embeddings with a loaded model: decode (lib/audio), log-mel
 * (lib/features) with the model's mel settings, then the clip or frame
 * protocol of the model's family (pooling.ts for ATST-Clip, frame_pooling.ts
 * for ATST-Frame, whose features are read a chunk at a time and whose frame
 * embeddings are streamed). Used by `atst embed` and by the probe.
 *
 * Bounded memory for long files: a WAV is read by range (lib/audio/load.ts
 * `openAudio`), so clip mode decodes only its centre crop, ATST-Frame reads
 * the samples of one chunk at a time, and ATST-Clip frames of a WAV longer
 * than LONG_SAMPLES are streamed piece by piece. Other formats are decoded
 * whole first. ATST-Frame files up to LONG_SAMPLES are embedded in groups of
 * `batch` whose chunks share encoder calls; a longer one is embedded alone.
 *
 * @module
 */
import { InputError, UserError } from "../errors.ts";
import { LONG_SAMPLES, openAudio } from "../audio/load.ts";
import type { Encoder } from "../model/encoder.ts";
import type { ModelMeta } from "../model/checkpoint.ts";
import {
  chunkFramesFor,
  clipDim,
  embedClips,
  embedFrames,
  type FeatureClip,
  type FrameEmbedding,
  streamFrames,
} from "./pooling.ts";
import {
  frameChunkFrames,
  frameChunks,
  type FrameStream,
  sceneEmbeddings,
  timestampEmbeddings,
  tokenCentresMs,
} from "./frame_pooling.ts";
import { StreamedLogMel } from "./_stream_mel.ts";
import { type LoadedClip, ReadAhead } from "./read_ahead.ts";

/** A file to embed (lib/audio/inputs.ts's InputFile has this shape). */
export interface EmbedInput {
  /** Path to read. */
  path: string;
  /** Relative path used to mirror outputs. */
  rel: string;
}

/** A loaded model: what `loadEncoder` returns. */
export interface EmbedModel {
  encoder: Encoder;
  meta: ModelMeta;
}

/** How to embed. */
export interface EmbedOptions {
  /**
   * "clip" (default: REFERENCE.md §4.1, or ATST-Frame's scene embedding) or
   * "frames" (one vector per 40 ms patch; ATST-Frame's timestamp embedding).
   */
  mode?: "clip" | "frames";
  /** Last n blocks (clipped to the depth): default 12 for clips, 1 for ATST-Clip frames, 12 for ATST-Frame frames. */
  blocks?: number;
  /** Clip mode: CLS, patch mean or both (default both; ATST-Frame has only mean). */
  pool?: "cls" | "mean" | "both";
  /** Clip mode: per-chunk mean over its own valid patches instead of the reference quirk. */
  correctedMean?: boolean;
  /** Files per group and encoder pieces per call (default 8). */
  batch?: number;
  /** Clip mode: centre crop to at most this many seconds (default 12, the reference). */
  maxSeconds?: number;
  /** Workers decoding the next groups while the encoder runs (read_ahead.ts; 0: in turn). */
  readAhead?: number;
}

/** One file's outcome, delivered in input order. */
export type EmbedResult =
  | { file: EmbedInput; clip: Float32Array; seconds: number }
  | { file: EmbedInput; frames: FrameEmbedding; seconds: number }
  /** Frames as a stream (ATST-Frame, or ATST-Clip frames of a long WAV): read `stream.chunks` before the next result (it runs the encoder). */
  | { file: EmbedInput; stream: FrameStream; seconds: number }
  | { file: EmbedInput; error: InputError };

/** The resolved settings, as written to output metadata. */
export interface EmbedSettings {
  mode: "clip" | "frames";
  blocks: number;
  pool: "cls" | "mean" | "both";
  correctedMean: boolean;
  chunkFrames: number;
  maxSeconds: number | null;
  dim: number;
}

/** Resolves `opts` against the model (defaults, clipping, output width). */
export function embedSettings(model: EmbedModel, opts: EmbedOptions = {}): EmbedSettings {
  const mode = opts.mode ?? "clip";
  const depth = model.encoder.cfg.depth;
  if (model.encoder.cfg.family === "frame") return frameSettings(model, opts);
  const blocks = Math.min(opts.blocks ?? (mode === "clip" ? 12 : 1), depth);
  if (!(blocks >= 1)) throw new Error(`blocks must be at least 1, got ${opts.blocks}`);
  const pool = mode === "clip" ? opts.pool ?? "both" : "cls";
  const dim = mode === "clip"
    ? clipDim(model.encoder, { blocks, pool })
    : blocks * model.encoder.cfg.dim;
  return {
    mode,
    blocks,
    pool,
    correctedMean: mode === "clip" && opts.correctedMean === true,
    chunkFrames: chunkFramesFor(model.meta.trainCropSeconds),
    maxSeconds: mode === "clip" ? opts.maxSeconds ?? 12 : null,
    dim,
  };
}

/** {@link embedSettings} of an ATST-Frame model (REFERENCE.md §8.5). */
function frameSettings(model: EmbedModel, opts: EmbedOptions): EmbedSettings {
  const mode = opts.mode ?? "clip";
  if (opts.pool !== undefined && opts.pool !== "mean") {
    throw new UserError(
      `ATST-Frame models have no [CLS] token: --pool ${opts.pool} does not apply (their scene embedding is the token mean)`,
    );
  }
  if (opts.correctedMean) {
    throw new UserError("Flag --corrected-mean applies to ATST-Clip models only");
  }
  // The authors' API uses the last 12 blocks in both modes.
  const blocks = Math.min(opts.blocks ?? 12, model.encoder.cfg.depth);
  if (!(blocks >= 1)) throw new Error(`blocks must be at least 1, got ${opts.blocks}`);
  return {
    mode,
    blocks,
    pool: "mean",
    correctedMean: false,
    chunkFrames: frameChunkFrames(model.encoder),
    maxSeconds: null,
    dim: blocks * model.encoder.cfg.dim,
  };
}

/**
 * Embeds `files` with `model`, calling `onResult` once per file in input
 * order (awaited, so a slow writer applies back-pressure). A file that
 * cannot be read or is empty yields `{ error }` and the others go on.
 * Results do not depend on how files are grouped into batches.
 *
 * @example
 * ```ts
 * const model = await loadEncoder("atst_small.ckpt");
 * await embedFiles(model, [{ path: "a.wav", rel: "a.wav" }], {}, (r) => {
 *   if ("clip" in r) console.log(r.clip.length); // 9216 for small
 * });
 * ```
 */
export async function embedFiles(
  model: EmbedModel,
  files: EmbedInput[],
  opts: EmbedOptions,
  onResult: (r: EmbedResult) => void | Promise<void>,
): Promise<{ ok: number; failed: number }> {
  const s = embedSettings(model, opts);
  const batch = Math.max(1, opts.batch ?? 8);
  const mel = model.meta.mel;
  let ok = 0, failed = 0;
  const emit = async (r: EmbedResult) => {
    if ("error" in r) failed++;
    else ok++;
    await onResult(r);
  };
  if (model.encoder.cfg.family === "frame") {
    // Files up to LONG_SAMPLES in groups of `batch`, their chunks batched together; a longer
    // file alone, a chunk at a time, so an hour-long file holds its samples only.
    let group: { file: EmbedInput; opened: Opened }[] = [];
    const deliver = async (entries: { file: EmbedInput; opened: Opened }[]) => {
      for (const r of embedFrameFamily(model, entries, s, batch)) await emit(await r);
    };
    for (const file of files) {
      const opened = await openFeatures(model, file);
      if ("error" in opened || !opened.long) {
        group.push({ file, opened });
        if (group.length < batch) continue;
      }
      await deliver(group);
      group = [];
      if (!("error" in opened) && opened.long) await deliver([{ file, opened }]);
    }
    await deliver(group);
    return { ok, failed };
  }
  const ahead = new ReadAhead(files.map((f) => f.path), {
    mel,
    maxSeconds: s.maxSeconds,
    group: batch,
    workers: opts.readAhead,
    // Frames of a long WAV: read and encoded by pieces below, not all held.
    streamAbove: s.mode === "frames" ? LONG_SAMPLES : undefined,
  });
  try {
    for (let g = 0; g < files.length; g += batch) {
      const group = files.slice(g, g + batch);
      const loaded: LoadedClip[] = [];
      for (let i = 0; i < group.length; i++) loaded.push(await ahead.next());
      const good = loaded.filter((l): l is { clip: FeatureClip; seconds: number } =>
        !(l instanceof InputError) && "clip" in l
      );
      const clips = good.map((l) => l.clip);
      const clipOut = s.mode === "clip" && clips.length
        ? await embedClips(model.encoder, clips, { ...s, batch })
        : [];
      const frameOut = s.mode === "frames" && clips.length
        ? await embedFrames(model.encoder, clips, {
          chunkFrames: s.chunkFrames,
          blocks: s.blocks,
          batch,
        })
        : [];
      let k = 0;
      for (let i = 0; i < group.length; i++) {
        const l = loaded[i]!, file = group[i]!;
        if (l instanceof InputError) await emit({ file, error: l });
        else if ("streamed" in l) await emit(await streamClipFrames(model, file, s, batch));
        else if (s.mode === "clip") await emit({ file, clip: clipOut[k++]!, seconds: l.seconds });
        else await emit({ file, frames: frameOut[k++]!, seconds: l.seconds });
      }
    }
  } finally {
    ahead.close();
  }
  return { ok, failed };
}

/**
 * Reads a frame stream into one {@link FrameEmbedding} (for callers that
 * need all rows at once, like the probe).
 */
export async function collectFrames(stream: FrameStream): Promise<FrameEmbedding> {
  const data = new Float32Array(stream.frames * stream.dim);
  let at = 0;
  for await (const part of stream.chunks) {
    data.set(part, at);
    at += part.length;
  }
  return { data, frames: stream.frames, dim: stream.dim, timesMs: stream.timesMs };
}

/** A file's log-mel read by range, its length and whether it is past LONG_SAMPLES; or why not. */
type Opened = { src: StreamedLogMel; seconds: number; long: boolean } | { error: InputError };

/** Opens `file`'s log-mel features by range (see {@link Opened}). */
async function openFeatures(model: EmbedModel, file: EmbedInput): Promise<Opened> {
  try {
    const audio = await openAudio(file.path);
    if (audio.length === 0) {
      return { error: new InputError(file.path, "the file holds no audio samples") };
    }
    const seconds = audio.length / model.meta.mel.sampleRate;
    return {
      src: new StreamedLogMel(audio, model.meta.mel),
      seconds,
      long: audio.length > LONG_SAMPLES,
    };
  } catch (err) {
    const error = err instanceof InputError
      ? err
      : new InputError(file.path, err instanceof Error ? err.message : String(err));
    return { error };
  }
}

/** A long WAV's ATST-Clip frame embeddings as a stream (the rows of {@link embedFrames}). */
async function streamClipFrames(
  model: EmbedModel,
  file: EmbedInput,
  s: EmbedSettings,
  batch: number,
): Promise<EmbedResult> {
  const opened = await openFeatures(model, file);
  if ("error" in opened) return { file, error: opened.error };
  const opts = { chunkFrames: s.chunkFrames, blocks: s.blocks, batch };
  return { file, stream: streamFrames(model.encoder, opened.src, opts), seconds: opened.seconds };
}

/**
 * Files opened for an ATST-Frame model, in order, their chunks batched
 * together: each one's scene embedding (all encoded before the first is
 * given), or its timestamp embedding as a stream (encoded as the streams
 * are read, in order), or why it cannot be read.
 */
function* embedFrameFamily(
  model: EmbedModel,
  entries: { file: EmbedInput; opened: Opened }[],
  s: EmbedSettings,
  batch: number,
): Generator<Promise<EmbedResult>> {
  const good = entries.flatMap((e) => "error" in e.opened ? [] : [e.opened]);
  const srcs = good.map((o) => o.src);
  const opts = { blocks: s.blocks, batch };
  const scenes = s.mode === "clip" && srcs.length
    ? sceneEmbeddings(model.encoder, srcs, opts)
    : Promise.resolve([]);
  // Awaited at the first good file; until then a failure must not count as unhandled.
  scenes.catch(() => {});
  const streams = s.mode === "frames" ? timestampEmbeddings(model.encoder, srcs, opts) : [];
  let k = 0;
  for (const { file, opened } of entries) {
    if ("error" in opened) {
      yield Promise.resolve({ file, error: opened.error });
      continue;
    }
    const { src, seconds } = opened, i = k++;
    if (s.mode === "clip") {
      yield scenes.then((all) => ({ file, clip: all[i]!, seconds }));
      continue;
    }
    const timesMs = tokenCentresMs(
      frameChunks(src.frames, s.chunkFrames),
      model.encoder.cfg.patchFrames,
    );
    const stream = { frames: timesMs.length, dim: s.dim, timesMs, chunks: streams[i]! };
    yield Promise.resolve({ file, stream, seconds });
  }
}
