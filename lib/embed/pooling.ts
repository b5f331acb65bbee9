/**
 * The embedding protocols on log-mel features (REFERENCE.md §4): clip embeddings
 * by the reference's chunking protocol, and frame embeddings (one vector
 * per 40 ms patch). Pieces of many clips are batched together with padding
 * and key masks; every result depends only on its own clip.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { Encoder } from "../model/encoder.ts";
import type { FeatureSource, FrameStream } from "./frame_pooling.ts";

/** Log-mel features of one clip, [nMels, frames] row-major. */
export interface FeatureClip {
  data: Float32Array;
  nMels: number;
  frames: number;
}

/** Options of the clip protocol (REFERENCE.md §4.1). */
export interface ClipOptions {
  /** Frames per chunk, C = int(trainCropSeconds * 100 + 1) (601 for 6 s). */
  chunkFrames: number;
  /** Last n blocks to pool (clipped to the depth); the reference uses 12. */
  blocks: number;
  /** Which pooled parts to output: CLS tokens, patch means, or both (CLS first). */
  pool: "cls" | "mean" | "both";
  /**
   * Divide each chunk's patch sum by its own number of valid patches instead
   * of the reference's floor(remaining frames / 4) (default false: the quirk).
   */
  correctedMean?: boolean;
  /** Chunks per encoder call (default 8). */
  batch?: number;
}

/** The chunk length the reference derives from the pre-training crop length. */
export function chunkFramesFor(trainCropSeconds: number): number {
  return Math.trunc((trainCropSeconds * 16000) / 160 + 1);
}

/** One piece of a clip given to the encoder. */
interface Piece {
  clip: number;
  start: number;
  width: number;
  /** Frames the reference passes as the length (the remaining length for clip chunks). */
  length: number;
}

/**
 * The chunks of a clip W frames wide that count (REFERENCE.md §4.1): floor(W/C)+1
 * chunks; the first counts if it has any frame, later ones if more than
 * C // 2 frames remain. Uncounted chunks never reach the encoder.
 */
export function clipChunks(
  frames: number,
  chunk: number,
): { start: number; width: number; remaining: number }[] {
  const out = [];
  for (let i = 0; i <= Math.floor(frames / chunk); i++) {
    const remaining = Math.max(frames - i * chunk, 0);
    const counts = i === 0 ? remaining > 0 : remaining > Math.floor(chunk / 2);
    if (counts) {
      out.push({ start: i * chunk, width: Math.min(chunk, frames - i * chunk), remaining });
    }
  }
  return out;
}

/** Width of a clip embedding: D values per block and pooled part. */
export function clipDim(encoder: Encoder, opts: Pick<ClipOptions, "blocks" | "pool">): number {
  const n = Math.min(opts.blocks, encoder.cfg.depth);
  return n * encoder.cfg.dim * (opts.pool === "both" ? 2 : 1);
}

/**
 * Clip embeddings of `clips` (REFERENCE.md §4.1), in order: for each of the last n
 * blocks the CLS token, then for each the mean of the valid patch tokens,
 * each averaged over the counted chunks. Async only to read results back.
 *
 * @example
 * ```ts
 * const [e] = await embedClips(encoder, [logMel(samples)], { chunkFrames: 601, blocks: 12, pool: "both" });
 * ```
 */
export async function embedClips(
  encoder: Encoder,
  clips: FeatureClip[],
  opts: ClipOptions,
): Promise<Float32Array[]> {
  const n = Math.min(opts.blocks, encoder.cfg.depth);
  const D = encoder.cfg.dim;
  const pieces: Piece[] = [];
  clips.forEach((c, clip) => {
    if (c.frames <= 0) throw new Error(`Clip ${clip} has no frames`);
    for (const ch of clipChunks(c.frames, opts.chunkFrames)) {
      pieces.push({ clip, start: ch.start, width: ch.width, length: ch.remaining });
    }
  });
  const cls = clips.map(() => new Float64Array(n * D));
  const mean = clips.map(() => new Float64Array(n * D));
  const count = new Float64Array(clips.length);
  await runPieces(encoder, clips, pieces, opts.batch ?? 8, async (group, x, lengths) => {
    const N = Math.floor(x.shape[2] / encoder.cfg.patchFrames);
    const pooled = tf.tidy(() => {
      const outs = encoder.blockOutputs(x, lengths, n); // n x [B, 1+N, D]
      // CLS pick and masked mean as one product per block: no copy of the n outputs.
      const weights = poolWeights(group, N, encoder.cfg.patchFrames, opts.correctedMean); // [B, 2, 1+N]
      return tf.stack(outs.map((y) => tf.matMul(weights, y)), 2); // [B, 2, n, D]
    });
    const data = await pooled.data();
    pooled.dispose();
    group.forEach((p, b) => {
      const off = b * 2 * n * D;
      const c = cls[p.clip]!, m = mean[p.clip]!;
      for (let i = 0; i < n * D; i++) {
        c[i] = c[i]! + data[off + i]!;
        m[i] = m[i]! + data[off + n * D + i]!;
      }
      count[p.clip]!++;
    });
  });
  return clips.map((_, k) => {
    const parts = opts.pool === "cls"
      ? [cls[k]!]
      : opts.pool === "mean"
      ? [mean[k]!]
      : [cls[k]!, mean[k]!];
    const out = new Float32Array(parts.length * n * D);
    parts.forEach((p, j) => {
      for (let i = 0; i < n * D; i++) out[j * n * D + i] = p[i]! / count[k]!;
    });
    return out;
  });
}

/**
 * [B, 2, 1+N] pooling weights of each piece's tokens: row 0 picks the CLS
 * token, row 1 averages the valid patch tokens, dividing their sum by
 * floor(length / 4) (+1e-6, as the reference) or, corrected, by the number
 * of valid tokens in the piece.
 */
function poolWeights(group: Piece[], N: number, P: number, corrected = false): tf.Tensor3D {
  const w = new Float32Array(group.length * 2 * (1 + N));
  group.forEach((p, b) => {
    const nValid = Math.min(Math.floor(p.length / P), Math.floor(p.width / P));
    const scale = 1 / ((corrected ? nValid : Math.floor(p.length / P)) + 1e-6);
    const row = b * 2 * (1 + N);
    w[row] = 1;
    for (let j = 0; j < nValid; j++) w[row + 1 + N + 1 + j] = scale;
  });
  return tf.tensor3d(w, [group.length, 2, 1 + N]);
}

/** Options of the frame protocol. */
export interface FrameOptions {
  /** Frames per encoder piece; rounded down to whole patches (the clip chunk length). */
  chunkFrames: number;
  /** Last n blocks, concatenated per frame in block order (default 1: the final output). */
  blocks?: number;
  /** Pieces per encoder call (default 8). */
  batch?: number;
}

/** Frame embeddings of one clip: one row per 40 ms patch. */
export interface FrameEmbedding {
  /** [frames, dim] row-major. */
  data: Float32Array;
  frames: number;
  dim: number;
  /** Patch centres in milliseconds: 40 k + 15 (frames are 10 ms apart, 4 per patch). */
  timesMs: Float64Array;
}

/** The frame protocol's block count and piece length (whole patches, at most maxPatches). */
function framePlan(encoder: Encoder, opts: FrameOptions): { n: number; step: number } {
  const P = encoder.cfg.patchFrames;
  const n = Math.min(opts.blocks ?? 1, encoder.cfg.depth);
  const step = Math.min(opts.chunkFrames - (opts.chunkFrames % P), encoder.cfg.maxPatches * P);
  if (step <= 0) throw new Error(`Chunk of ${opts.chunkFrames} frames holds no patch`);
  return { n, step };
}

/** Centres in ms of `frames` patches of `P` 10 ms frames: 40 k + 15 for P = 4. */
function patchCentresMs(frames: number, P: number): Float64Array {
  return Float64Array.from({ length: frames }, (_, k) => (k * P + (P - 1) / 2) * 10);
}

/** The patch tokens of the last `n` blocks of `x` [B, F, W], concatenated: [B, W / P, n*D]. */
function patchTokens(encoder: Encoder, x: tf.Tensor3D, lengths: number[], n: number): tf.Tensor3D {
  const [B, , W] = x.shape, N = Math.floor(W / encoder.cfg.patchFrames);
  return tf.tidy(() => {
    const outs = encoder.blockOutputs(x, lengths, n); // n x [B, 1+N, D]
    const all = tf.concat(outs, 2); // [B, 1+N, n*D]
    return tf.slice(all, [0, 1, 0], [B, N, n * encoder.cfg.dim]); // [B, N, n*D]
  });
}

/**
 * Frame embeddings of `clips`: the clip is cut into pieces of whole patches
 * (positions restart at each piece, as in the clip protocol), each piece
 * runs with its own length, and the patch tokens of the last n blocks
 * (through the final norm) are concatenated. Trailing frames that do not
 * fill a patch are dropped.
 */
export async function embedFrames(
  encoder: Encoder,
  clips: FeatureClip[],
  opts: FrameOptions,
): Promise<FrameEmbedding[]> {
  const P = encoder.cfg.patchFrames, D = encoder.cfg.dim;
  const { n, step } = framePlan(encoder, opts);
  const pieces: Piece[] = [];
  const results = clips.map((c, clip) => {
    const frames = Math.floor(c.frames / P);
    for (let s = 0; s < frames * P; s += step) {
      const width = Math.min(step, frames * P - s);
      pieces.push({ clip, start: s, width, length: width });
    }
    const timesMs = patchCentresMs(frames, P);
    return { data: new Float32Array(frames * n * D), frames, dim: n * D, timesMs };
  });
  await runPieces(encoder, clips, pieces, opts.batch ?? 8, async (group, x, lengths) => {
    const N = Math.floor(x.shape[2] / P);
    const tokens = patchTokens(encoder, x, lengths, n); // [B, N, n*D]
    const data = await tokens.data();
    tokens.dispose();
    group.forEach((p, b) => {
      const rows = p.width / P;
      const dst = results[p.clip]!.data;
      dst.set(data.subarray(b * N * n * D, (b * N + rows) * n * D), (p.start / P) * n * D);
    });
  });
  return results;
}

/**
 * The frame embeddings of one clip as {@link embedFrames} computes them,
 * delivered a group of pieces at a time and read from `src` a piece at a
 * time, so a long clip holds one group. The pieces of one clip form the
 * same groups here as in {@link embedFrames} (only the last can be
 * narrower, and it sorts last there too), so the rows are the same bits.
 *
 * @example
 * ```ts
 * const s = streamFrames(encoder, new StreamedLogMel(await openAudio("hour.wav"), mel), opts);
 * for await (const rows of s.chunks) write(rows); // [rows, s.dim] each
 * ```
 */
export function streamFrames(
  encoder: Encoder,
  src: FeatureSource,
  opts: FrameOptions,
): FrameStream {
  const P = encoder.cfg.patchFrames, D = encoder.cfg.dim, F = encoder.cfg.nMels;
  const { n, step } = framePlan(encoder, opts);
  if (src.nMels !== F) {
    throw new Error(`Features have ${src.nMels} mel bands, the model expects ${F}`);
  }
  const frames = Math.floor(src.frames / P), batch = opts.batch ?? 8;
  const timesMs = patchCentresMs(frames, P);
  async function* chunks(): AsyncGenerator<Float32Array> {
    for (let g = 0; g < frames * P; g += batch * step) {
      const group: { start: number; width: number }[] = [];
      for (let s = g; s < Math.min(frames * P, g + batch * step); s += step) {
        group.push({ start: s, width: Math.min(step, frames * P - s) });
      }
      const W = group[0]!.width, N = Math.floor(W / P);
      const host = new Float32Array(group.length * F * W);
      group.forEach((p, b) => {
        const feats = src.read(p.start, p.width); // [F, width]
        for (let f = 0; f < F; f++) {
          host.set(feats.subarray(f * p.width, (f + 1) * p.width), (b * F + f) * W);
        }
      });
      const x = tf.tensor3d(host, [group.length, F, W]);
      let tokens: tf.Tensor3D;
      try {
        tokens = patchTokens(encoder, x, group.map((p) => p.width), n); // [B, N, n*D]
      } finally {
        x.dispose();
      }
      const data = await tokens.data();
      tokens.dispose();
      for (const [b, p] of group.entries()) {
        yield data.slice(b * N * n * D, (b * N + p.width / P) * n * D) as Float32Array;
      }
    }
  }
  return { frames, dim: n * D, timesMs, chunks: chunks() };
}

/**
 * Runs pieces through `fn` in groups of `batch`, each group zero-padded to
 * its widest piece. Pieces are grouped by width so padding stays small;
 * results do not depend on the grouping (padded keys are masked).
 */
async function runPieces(
  encoder: Encoder,
  clips: FeatureClip[],
  pieces: Piece[],
  batch: number,
  fn: (group: Piece[], x: tf.Tensor3D, lengths: number[]) => Promise<void>,
): Promise<void> {
  const F = encoder.cfg.nMels;
  const order = [...pieces].sort((a, b) => b.width - a.width);
  for (let g = 0; g < order.length; g += batch) {
    const group = order.slice(g, g + batch);
    const W = group[0]!.width;
    const host = new Float32Array(group.length * F * W);
    group.forEach((p, b) => {
      const c = clips[p.clip]!;
      if (c.nMels !== F) {
        throw new Error(`Clip ${p.clip} has ${c.nMels} mel bands, the model expects ${F}`);
      }
      for (let f = 0; f < F; f++) {
        const src = c.data.subarray(f * c.frames + p.start, f * c.frames + p.start + p.width);
        host.set(src, (b * F + f) * W);
      }
    });
    const x = tf.tensor3d(host, [group.length, F, W]);
    // The reference's mask length is the remaining length; beyond the piece it changes nothing.
    const lengths = group.map((p) => Math.min(p.length, p.width));
    try {
      await fn(group, x, lengths);
    } finally {
      x.dispose();
    }
  }
}
