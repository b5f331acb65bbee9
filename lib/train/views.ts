/**
 * Training views (REFERENCE.md §3): a random crop of the training length, its
 * log-mel, log-mixup-exp with a FIFO memory of earlier crops, and Random
 * Resize Crop with bicubic resampling. Plain TypeScript on Float32Arrays
 * ([64, T] row-major), seeded by {@link Rng}.
 *
 * The mixup memory holds crop descriptors (clip index, sample offset)
 * instead of the 2000 spectrograms the reference keeps: a crop's log-mel is
 * a pure function of its descriptor, so a drawn memory entry is recomputed
 * when needed. Output is identical, RAM stays small, and a checkpoint stores
 * the memory in a few kilobytes.
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** A crop of clip `clip` starting at sample `offset`. */
export interface CropRef {
  clip: number;
  offset: number;
}

/** Frames of the log-mel of a crop of `samples` samples (hop 160, centred). */
export function cropFrames(samples: number): number {
  return Math.floor(samples / 160) + 1;
}

/** Samples of a crop of `seconds` (601 frames for 6 s). */
export function cropSamples(seconds: number): number {
  return Math.floor(seconds * 16000);
}

/** Draws a crop start: uniform over valid starts; 0 when the clip is shorter. */
export function drawOffset(clipLength: number, cropLength: number, rng: Rng): number {
  return clipLength > cropLength ? rng.int(0, clipLength - cropLength) : 0;
}

/** The crop of `cropLength` samples at `offset`, zero-padded on the right. */
export function cropAt(samples: Float32Array, cropLength: number, offset: number): Float32Array {
  const out = new Float32Array(cropLength);
  out.set(samples.subarray(offset, Math.min(samples.length, offset + cropLength)));
  return out;
}

const F32_EPS = 1.1920928955078125e-7;

/**
 * log((1 - alpha) * exp(x) + alpha * exp(z) + eps), elementwise, as BYOL-A's
 * log_mixup_exp with the float32 machine epsilon. `x` and `z` have the same
 * length.
 */
export function logMixupExp(x: Float32Array, z: Float32Array, alpha: number): Float32Array {
  if (x.length !== z.length) throw new Error(`Mixup: lengths differ (${x.length} vs ${z.length})`);
  const out = new Float32Array(x.length);
  const a = Math.fround(alpha);
  const b = Math.fround(1 - alpha);
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.log(
      Math.fround(
        Math.fround(b * Math.fround(Math.exp(x[i]!))) +
          Math.fround(a * Math.fround(Math.exp(z[i]!))),
      ) + F32_EPS,
    );
  }
  return out;
}

/**
 * Brings `z` [nMels, zT] to `t` frames: a random window of a longer `z`;
 * a shorter `z` is placed at a random offset and the rest is taken from `x`
 * (so those frames mix `x` with itself and stay `x`).
 */
export function alignFrames(
  z: Float32Array,
  x: Float32Array,
  nMels: number,
  rng: Rng,
): Float32Array {
  const t = x.length / nMels;
  const zT = z.length / nMels;
  if (zT === t) return z;
  const out = new Float32Array(x.length);
  if (zT > t) {
    const off = rng.int(0, zT - t);
    for (let f = 0; f < nMels; f++) out.set(z.subarray(f * zT + off, f * zT + off + t), f * t);
  } else {
    const off = rng.int(0, t - zT);
    out.set(x);
    for (let f = 0; f < nMels; f++) out.set(z.subarray(f * zT, (f + 1) * zT), f * t + off);
  }
  return out;
}

/** log-mixup-exp with a FIFO memory of crop descriptors (one per view). */
export class MixupMemory {
  readonly capacity: number;
  readonly ratio: number;
  entries: CropRef[] = [];

  constructor(opts: { capacity?: number; ratio?: number } = {}) {
    this.capacity = opts.capacity ?? 2000;
    this.ratio = opts.ratio ?? 0.4;
  }

  /**
   * Mixes `x` (the log-mel of crop `ref`) with a random earlier crop, then
   * appends `ref` to the memory. `features(ref)` recomputes a remembered
   * crop's log-mel. Draw order as BYOL-A: alpha first, then the entry.
   */
  apply(
    x: Float32Array,
    ref: CropRef,
    nMels: number,
    rng: Rng,
    features: (ref: CropRef) => Float32Array,
  ): Float32Array {
    const { alpha, partner } = this.draw(ref, rng);
    return partner ? logMixupExp(x, alignFrames(features(partner), x, nMels, rng), alpha) : x;
  }

  /**
   * The draws of {@link apply} without the mixing: alpha, then the partner
   * (null while the memory is empty); appends `ref` to the memory.
   */
  draw(ref: CropRef, rng: Rng): { alpha: number; partner: CropRef | null } {
    const alpha = this.ratio * rng.uniform();
    const partner = this.entries.length > 0
      ? this.entries[rng.int(0, this.entries.length - 1)]!
      : null;
    this.entries.push(ref);
    if (this.entries.length > this.capacity) {
      this.entries.splice(0, this.entries.length - this.capacity);
    }
    return { alpha, partner };
  }
}

/** A crop box inside the zero canvas: top `i`, left `j`, height `h`, width `w`. */
export interface CropBox {
  i: number;
  j: number;
  h: number;
  w: number;
}

/**
 * Canvas width of Random Resize Crop for a T-frame input: floor(1.5 * T)
 * (ATST-Clip), or T for ATST-Frame's virtual crop scale 1.0 in time.
 */
export function canvasWidth(t: number, timeScale = 1.5): number {
  return Math.floor(t * timeScale);
}

/** Draws a crop box as BYOL-A's RandomResizeCrop (scales 0.6..1.5 in both axes). */
export function drawCropBox(nMels: number, t: number, rng: Rng): CropBox {
  const cw = canvasWidth(t);
  const ch = nMels;
  const h = Math.min(Math.max(Math.trunc(rng.uniform(0.6, 1.5) * nMels), 1), ch);
  const w = Math.min(Math.max(Math.trunc(rng.uniform(0.6, 1.5) * t), 1), cw);
  const i = ch > h ? rng.int(0, ch - h) : 0;
  const j = cw > w ? rng.int(0, cw - w) : 0;
  return { i, j, h, w };
}

/**
 * Places `x` [nMels, T] at the centre of a zero canvas [nMels, floor(1.5 T)]
 * (`timeScale` 1.5; 1.0: no canvas), cuts `box` out of it and resizes that
 * back to [nMels, T] with bicubic interpolation (align_corners=True,
 * A = -0.75, edge indices clamped), as
 * torch.nn.functional.interpolate(mode="bicubic").
 */
export function resizeCrop(
  x: Float32Array,
  nMels: number,
  box: CropBox,
  timeScale = 1.5,
): Float32Array {
  const t = x.length / nMels;
  const cw = canvasWidth(t, timeScale);
  const x0 = Math.floor((cw - t) / 2);
  const y0 = 0; // canvas height equals nMels (virtual crop scale 1.0 in frequency)
  // The crop, read from the virtual canvas (zeros outside x).
  const { i, j, h, w } = box;
  const crop = new Float64Array(h * w);
  for (let r = 0; r < h; r++) {
    const sr = i + r - y0;
    if (sr < 0 || sr >= nMels) continue;
    for (let c = 0; c < w; c++) {
      const sc = j + c - x0;
      if (sc >= 0 && sc < t) crop[r * w + c] = x[sr * t + sc]!;
    }
  }
  return bicubicResize(crop, h, w, nMels, t);
}

function cubicWeights(s: number): [number, number, number, number] {
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(s + 1), c1(s), c1(1 - s), c2(2 - s)];
}

/** Per output index: the four clamped source indices and their weights. */
function taps(inSize: number, outSize: number): { idx: Int32Array; wt: Float64Array } {
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  const idx = new Int32Array(outSize * 4);
  const wt = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const real = scale * o;
    const i0 = Math.min(Math.max(Math.floor(real), 0), inSize - 1);
    const s = Math.min(Math.max(real - i0, 0), 1);
    const ws = cubicWeights(s);
    for (let k = 0; k < 4; k++) {
      idx[o * 4 + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      wt[o * 4 + k] = ws[k]!;
    }
  }
  return { idx, wt };
}

/** Bicubic resize of `src` [h, w] to [outH, outW], align_corners=True. */
export function bicubicResize(
  src: ArrayLike<number>,
  h: number,
  w: number,
  outH: number,
  outW: number,
): Float32Array {
  const tx = taps(w, outW);
  const ty = taps(h, outH);
  // Horizontal pass over every source row, then the vertical pass.
  const rows = new Float64Array(h * outW);
  for (let r = 0; r < h; r++) {
    for (let o = 0; o < outW; o++) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc += tx.wt[o * 4 + k]! * src[r * w + tx.idx[o * 4 + k]!]!;
      rows[r * outW + o] = acc;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let o = 0; o < outH; o++) {
    for (let c = 0; c < outW; c++) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc += ty.wt[o * 4 + k]! * rows[ty.idx[o * 4 + k]! * outW + c]!;
      out[o * outW + c] = acc;
    }
  }
  return out;
}

/** Read access to the training clips (16 kHz mono). */
export interface ClipSource {
  /** Number of clips. */
  readonly count: number;
  /** Samples in clip `clip`. */
  length(clip: number): number;
  /** `length` samples of clip `clip` from `offset`, zero-padded past its end. */
  read(clip: number, offset: number, length: number): Float32Array;
}

/** A {@link ClipSource} over arrays in memory. */
export function memoryClips(clips: Float32Array[]): ClipSource {
  return {
    count: clips.length,
    length: (c) => clips[c]!.length,
    read: (c, offset, length) => cropAt(clips[c]!, length, offset),
  };
}

/** Everything one view needs besides the clip. */
export interface ViewContext {
  clips: ClipSource;
  /** Crop length in samples. */
  cropLength: number;
  nMels: number;
  /** Log-mel of a crop: [nMels, T] row-major (logMel(crop).data). */
  featurize: (crop: Float32Array) => Float32Array;
}

/** Everything random about one view: its crop, its mixup partner and weight, its resize box. */
export interface ViewDraw {
  crop: CropRef;
  alpha: number;
  partner: CropRef | null;
  /** null: no Random Resize Crop (ATST-Frame's plain view). */
  box: CropBox | null;
  /** Canvas scale in time of the resize crop (default 1.5; ATST-Frame 1.0). */
  timeScale?: number;
}

/**
 * The draws of one view of clip `clip` (updating `memory`), in the order
 * {@link makeView} makes them; no audio is read. Every rank of a
 * data-parallel run draws every view of a step, so memories and draws are
 * those of one process, and renders only its own share.
 */
export function drawView(
  ctx: ViewContext,
  clip: number,
  memory: MixupMemory,
  rng: Rng,
): ViewDraw {
  const offset = drawOffset(ctx.clips.length(clip), ctx.cropLength, rng);
  const crop = { clip, offset };
  const { alpha, partner } = memory.draw(crop, rng);
  // Crop and partner have the same length, so alignFrames would draw nothing.
  const box = drawCropBox(ctx.nMels, cropFrames(ctx.cropLength), rng);
  return { crop, alpha, partner, box };
}

/** The view `d` describes: crop -> log-mel -> mixup -> Random Resize Crop; [nMels, T]. */
export function renderView(ctx: ViewContext, d: ViewDraw): Float32Array {
  const features = (ref: CropRef) =>
    ctx.featurize(ctx.clips.read(ref.clip, ref.offset, ctx.cropLength));
  const x = features(d.crop);
  if (x.length !== ctx.nMels * cropFrames(ctx.cropLength)) {
    throw new Error(
      `Features of a crop have ${x.length / ctx.nMels} frames, expected ${
        cropFrames(ctx.cropLength)
      }`,
    );
  }
  const mixed = d.partner ? logMixupExp(x, features(d.partner), d.alpha) : x;
  return d.box ? resizeCrop(mixed, ctx.nMels, d.box, d.timeScale) : mixed;
}

/**
 * One augmented view of clip `clip`: crop -> log-mel -> mixup (with
 * `memory`, which is updated) -> Random Resize Crop. Returns [nMels, T].
 */
export function makeView(
  ctx: ViewContext,
  clip: number,
  memory: MixupMemory,
  rng: Rng,
): Float32Array {
  return renderView(ctx, drawView(ctx, clip, memory, rng));
}
