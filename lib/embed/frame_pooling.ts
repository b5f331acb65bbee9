/**
 * The ATST-Frame embeddings (REFERENCE.md §8.5, the authors'
 * embedding.py): the log-mel of the whole clip is cut into chunks of 1001
 * frames, each encoded on its own with its width as the length; the
 * timestamp embedding concatenates the last n blocks (through `norm_frame`)
 * per token, chunks after each other in time; the scene embedding is per
 * chunk and block the token mean, averaged over the chunks. Features are
 * read a chunk at a time from a {@link FeatureSource}, so a long clip never
 * holds more than a batch of chunks. The chunks of several clips can share
 * encoder calls (zero-padded to the widest, the padded keys masked), with
 * the same results as each clip alone.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { Encoder } from "../model/encoder.ts";

/** Log-mel features readable a range of frames at a time. */
export interface FeatureSource {
  nMels: number;
  frames: number;
  /** Frames [start, start + width) as [nMels, width] row-major. */
  read(start: number, width: number): Float32Array;
}

/** A chunk of a clip's frames. */
export interface FrameChunk {
  start: number;
  width: number;
}

/** Frames per chunk: the positional table's 250 patches plus one (1001, 10 s). */
export function frameChunkFrames(encoder: Encoder): number {
  return encoder.cfg.maxPatches * encoder.cfg.patchFrames + 1;
}

/**
 * embedding.py's chunks of a clip `frames` wide: [c i, min(c (i + 1), frames))
 * for i = 0 .. floor(frames / c), the empty one (an exact multiple) skipped.
 *
 * @example
 * ```ts
 * frameChunks(2301, 1001); // [{start: 0, width: 1001}, {start: 1001, width: 1001}, {start: 2002, width: 299}]
 * ```
 */
export function frameChunks(frames: number, chunk: number): FrameChunk[] {
  const out: FrameChunk[] = [];
  for (let i = 0; i <= Math.floor(frames / chunk); i++) {
    const width = Math.min(chunk, frames - i * chunk);
    if (width > 0) out.push({ start: i * chunk, width });
  }
  return out;
}

/**
 * True centres of the timestamp tokens in ms: token k of the chunk starting
 * at frame s covers frames s + 4k .. s + 4k + 3, centre (s + 4k + 1.5) * 10
 * ms. (The authors report 40 k ms: token starts, ignoring that each chunk
 * drops its last width mod 4 frames.)
 */
export function tokenCentresMs(chunks: FrameChunk[], patchFrames: number): Float64Array {
  const out: number[] = [];
  for (const c of chunks) {
    for (let k = 0; k < Math.floor(c.width / patchFrames); k++) {
      out.push((c.start + patchFrames * k + (patchFrames - 1) / 2) * 10);
    }
  }
  return Float64Array.from(out);
}

/** A timestamp embedding delivered a chunk at a time. */
export interface FrameStream {
  /** Rows in all: one per token. */
  frames: number;
  /** Values per row (n * D). */
  dim: number;
  /** The true token centres in ms, one per row (see {@link tokenCentresMs}). */
  timesMs: Float64Array;
  /** The rows in time order, [rows, dim] row-major per chunk; can be read once. */
  chunks: AsyncIterable<Float32Array>;
}

/** Options of the frame-family protocols. */
export interface FramePoolOptions {
  /** Last n blocks (clipped to the depth): 12 as the authors' API, 1 for SED. */
  blocks: number;
  /** Chunks per encoder call (default 8). */
  batch?: number;
}

/**
 * The timestamp embedding of `src`, one chunk at a time in time order:
 * [floor(width / 4), n * D] row-major per chunk (empty for a 1..3-frame
 * tail), blocks oldest first along the features.
 *
 * @example
 * ```ts
 * for await (const rows of timestampEmbedding(encoder, src, { blocks: 1 })) write(rows);
 * ```
 */
export async function* timestampEmbedding(
  encoder: Encoder,
  src: FeatureSource,
  opts: FramePoolOptions,
): AsyncGenerator<Float32Array> {
  yield* timestampEmbeddings(encoder, [src], opts)[0]!;
}

/**
 * The timestamp embeddings of several clips with their chunks batched
 * together (`opts.batch` chunks per encoder call, in clip then time order,
 * padded to the widest with each chunk's width as its length), one stream
 * per clip as {@link timestampEmbedding} gives it. Encoding is lazy: a
 * stream runs the encoder when it needs rows, and keeps the rows of later
 * clips that came in the same batch until their streams are read. Read the
 * streams in order: starting one drops the unread rows of those before it.
 *
 * @example
 * ```ts
 * const [a, b] = timestampEmbeddings(encoder, [srcA, srcB], { blocks: 12, batch: 8 });
 * for await (const rows of a) write(rows); // one encoder call holds a's and b's chunks
 * for await (const rows of b) write(rows); // from the kept rows
 * ```
 */
export function timestampEmbeddings(
  encoder: Encoder,
  srcs: FeatureSource[],
  opts: FramePoolOptions,
): AsyncIterable<Float32Array>[] {
  const E = blocksOf(encoder, opts) * encoder.cfg.dim;
  const source = batches(encoder, srcs, opts.batch ?? 8);
  const kept: Float32Array[][] = srcs.map(() => []);
  // Chunks of each clip not encoded yet.
  const left = srcs.map((src) => tokenChunks(encoder, src).length);
  let reading = 0;
  let busy = Promise.resolve();
  const encodeNext = async (): Promise<void> => {
    const next = source.next();
    if (next.done) return;
    const { owners, tokens, N, x, lengths } = next.value;
    let all: tf.Tensor3D;
    try {
      all = tf.tidy(() => tf.concat(encoder.blockOutputs(x, lengths, opts.blocks), 2)); // [B, N, n*D]
    } finally {
      x.dispose();
    }
    const data = await all.data();
    all.dispose();
    for (const [b, rows] of tokens.entries()) {
      const k = owners[b]!;
      left[k]!--;
      if (k >= reading) kept[k]!.push(data.slice(b * N * E, (b * N + rows) * E) as Float32Array);
    }
  };
  async function* rowsOf(k: number): AsyncGenerator<Float32Array> {
    if (k < reading) throw new Error(`Timestamp stream ${k} read after stream ${reading}`);
    for (let j = reading; j < k; j++) kept[j] = [];
    reading = k;
    for (;;) {
      const rows = kept[k]!.shift();
      if (rows) {
        yield rows;
        continue;
      }
      if (left[k] === 0) return;
      // One encoder call at a time, so rows arrive in order even if two streams are read at once.
      await (busy = busy.then(encodeNext));
    }
  }
  return srcs.map((_, k) => ({ [Symbol.asyncIterator]: () => rowsOf(k) }));
}

/** The number of blocks used: `opts.blocks` clipped to the depth. */
function blocksOf(encoder: Encoder, opts: FramePoolOptions): number {
  return Math.min(opts.blocks, encoder.cfg.depth);
}

/**
 * The scene embedding of `src` (12 * D for the authors' n = 12): per chunk
 * and block the sum of its tokens over (count + 1e-6), then the plain mean
 * over the chunks; a 1..3-frame tail chunk counts, with zeros, as the
 * authors' code has it.
 */
export async function sceneEmbedding(
  encoder: Encoder,
  src: FeatureSource,
  opts: FramePoolOptions,
): Promise<Float32Array> {
  return (await sceneEmbeddings(encoder, [src], opts))[0]!;
}

/**
 * The scene embeddings of several clips, in order, each equal to its
 * {@link sceneEmbedding} up to summation order: their chunks are batched
 * together, `opts.batch` per encoder call in clip then time order.
 *
 * @example
 * ```ts
 * const [a, b] = await sceneEmbeddings(encoder, [srcA, srcB], { blocks: 12, batch: 8 });
 * ```
 */
export async function sceneEmbeddings(
  encoder: Encoder,
  srcs: FeatureSource[],
  opts: FramePoolOptions,
): Promise<Float32Array[]> {
  const E = blocksOf(encoder, opts) * encoder.cfg.dim;
  const acc = srcs.map(() => new Float64Array(E));
  for (const { owners, tokens, N, x, lengths } of batches(encoder, srcs, opts.batch ?? 8)) {
    let pooled: tf.Tensor3D;
    try {
      pooled = tf.tidy(() => {
        const w = new Float32Array(tokens.length * N);
        tokens.forEach((count, b) => w.fill(1 / (count + 1e-6), b * N, b * N + count));
        const weights = tf.tensor3d(w, [tokens.length, 1, N]); // [B, 1, N]
        const outs = encoder.blockOutputs(x, lengths, opts.blocks); // n x [B, N, D]
        return tf.concat(outs.map((y) => tf.matMul(weights, y)), 2); // [B, 1, n*D]
      });
    } finally {
      x.dispose();
    }
    const data = await pooled.data();
    pooled.dispose();
    owners.forEach((k, b) => {
      const a = acc[k]!;
      for (let i = 0; i < E; i++) a[i] = a[i]! + data[b * E + i]!;
    });
  }
  // Chunks without a token add zeros but count.
  const C = frameChunkFrames(encoder);
  return srcs.map((src, k) =>
    Float32Array.from(acc[k]!, (v) => v / frameChunks(src.frames, C).length)
  );
}

/** The chunks of `src` that hold a token (width at least one patch). */
function tokenChunks(encoder: Encoder, src: FeatureSource): FrameChunk[] {
  const P = encoder.cfg.patchFrames;
  return frameChunks(src.frames, frameChunkFrames(encoder)).filter((c) => c.width >= P);
}

/**
 * The chunks of `srcs` that hold a token, `batch` at a time in clip then
 * time order, read and zero-padded to the widest: x [B, nMels, W] (the
 * caller disposes it), with each chunk's clip index and token count.
 */
function* batches(
  encoder: Encoder,
  srcs: FeatureSource[],
  batch: number,
): Generator<
  { owners: number[]; tokens: number[]; N: number; x: tf.Tensor3D; lengths: number[] }
> {
  const F = encoder.cfg.nMels, P = encoder.cfg.patchFrames;
  for (const src of srcs) {
    if (src.nMels !== F) {
      throw new Error(`Features have ${src.nMels} mel bands, the model expects ${F}`);
    }
  }
  const chunks = srcs.flatMap((src, k) => tokenChunks(encoder, src).map((c) => ({ ...c, k })));
  for (let g = 0; g < chunks.length; g += batch) {
    const group = chunks.slice(g, g + batch);
    const W = Math.max(...group.map((c) => c.width));
    const host = new Float32Array(group.length * F * W);
    group.forEach((c, b) => {
      const feats = srcs[c.k]!.read(c.start, c.width); // [F, width]
      for (let f = 0; f < F; f++) {
        host.set(feats.subarray(f * c.width, (f + 1) * c.width), (b * F + f) * W);
      }
    });
    yield {
      owners: group.map((c) => c.k),
      tokens: group.map((c) => Math.floor(c.width / P)),
      N: Math.floor(W / P),
      x: tf.tensor3d(host, [group.length, F, W]),
      lengths: group.map((c) => c.width),
    };
  }
}

/**
 * A {@link FeatureSource} over features already in memory.
 *
 * @example
 * ```ts
 * const src = memorySource(logMel(samples));
 * ```
 */
export function memorySource(
  c: { data: Float32Array; nMels: number; frames: number },
): FeatureSource {
  return {
    nMels: c.nMels,
    frames: c.frames,
    read(start, width) {
      const out = new Float32Array(c.nMels * width);
      for (let f = 0; f < c.nMels; f++) {
        out.set(c.data.subarray(f * c.frames + start, f * c.frames + start + width), f * width);
      }
      return out;
    },
  };
}
