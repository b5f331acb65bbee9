/**
 * Audio files -> embeddings with a loaded model: decode (lib/audio), log-mel
 * (lib/features) with the model's mel settings, then the clip or frame
 * protocol (pooling.ts). Used by `atst embed` and by the probe.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { loadAudio } from "../audio/load.ts";
import { logMel } from "../features/mel.ts";
import type { Encoder } from "../model/encoder.ts";
import type { ModelMeta } from "../model/checkpoint.ts";
import {
  chunkFramesFor,
  clipDim,
  embedClips,
  embedFrames,
  type FeatureClip,
  type FrameEmbedding,
} from "./pooling.ts";

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
  /** "clip" (REFERENCE.md §4.1, default) or "frames" (one vector per 40 ms patch). */
  mode?: "clip" | "frames";
  /** Last n blocks (clipped to the depth): default 12 for clips, 1 for frames. */
  blocks?: number;
  /** Clip mode: CLS, patch mean or both (default both). */
  pool?: "cls" | "mean" | "both";
  /** Clip mode: per-chunk mean over its own valid patches instead of the reference quirk. */
  correctedMean?: boolean;
  /** Files per group and encoder pieces per call (default 8). */
  batch?: number;
  /** Clip mode: centre crop to at most this many seconds (default 12, the reference). */
  maxSeconds?: number;
}

/** One file's outcome, delivered in input order. */
export type EmbedResult =
  | { file: EmbedInput; clip: Float32Array; seconds: number }
  | { file: EmbedInput; frames: FrameEmbedding; seconds: number }
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
  for (let g = 0; g < files.length; g += batch) {
    const group = files.slice(g, g + batch);
    const loaded: ({ clip: FeatureClip; seconds: number } | InputError)[] = [];
    for (const file of group) loaded.push(await features(file, mel, s.maxSeconds));
    const good = loaded.filter((l): l is { clip: FeatureClip; seconds: number } =>
      !(l instanceof InputError)
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
      if (l instanceof InputError) {
        failed++;
        await onResult({ file, error: l });
        continue;
      }
      ok++;
      if (s.mode === "clip") await onResult({ file, clip: clipOut[k]!, seconds: l.seconds });
      else await onResult({ file, frames: frameOut[k]!, seconds: l.seconds });
      k++;
    }
  }
  return { ok, failed };
}

/** Decodes one file and computes its log-mel features (clip mode: centre crop first). */
async function features(
  file: EmbedInput,
  mel: ModelMeta["mel"],
  maxSeconds: number | null,
): Promise<{ clip: FeatureClip; seconds: number } | InputError> {
  try {
    let { samples } = await loadAudio(file.path);
    const seconds = samples.length / mel.sampleRate;
    if (samples.length === 0) return new InputError(file.path, "the file holds no audio samples");
    if (maxSeconds !== null) {
      const keep = Math.floor(maxSeconds * mel.sampleRate);
      // The reference's centre crop: start = (N - max) // 2, no padding.
      if (samples.length > keep) {
        const start = Math.floor((samples.length - keep) / 2);
        samples = samples.subarray(start, start + keep);
      }
    }
    return { clip: logMel(samples, mel), seconds };
  } catch (err) {
    if (err instanceof InputError) return err;
    return new InputError(file.path, err instanceof Error ? err.message : String(err));
  }
}
