/**
 * ATST-Frame's training views (REFERENCE.md §8.6, `aug_tea False,
 * aug_stu True`): one crop per clip; view 1 its plain log-mel, view 2 the
 * same crop through Mixup (view 2's memory) and a Random Resize Crop in
 * frequency only, so token k of both views covers the same frames. The
 * draws are {@link ViewDraw}s: rendering (here or in the view workers) is
 * views.ts's `renderView`.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import {
  type CropBox,
  cropFrames,
  drawOffset,
  type MixupMemory,
  type ViewContext,
  type ViewDraw,
} from "./views.ts";

/**
 * The frequency-only box: `h = clip(int(U(0.6, 1.5) * nMels), 1, nMels)` at
 * a random offset in [0, nMels - h], the whole time axis (virtual crop
 * scale 1.0 and time scale 1.0, so the width draw is always `t`).
 */
export function drawFrequencyBox(nMels: number, t: number, rng: Rng): CropBox {
  const h = Math.min(Math.max(Math.trunc(rng.uniform(0.6, 1.5) * nMels), 1), nMels);
  const i = nMels > h ? rng.int(0, nMels - h) : 0;
  return { i, j: 0, h, w: t };
}

/**
 * The two views of clip `clip`: [plain, augmented], drawn in the order
 * crop offset, mixup (alpha, partner; `memory` is view 2's and is
 * updated), frequency box.
 *
 * @example
 * ```ts
 * const [v1, v2] = drawFrameViews(ctx, 3, memories[1], rng);
 * renderView(ctx, v1); // the crop's log-mel, [64, T]
 * ```
 */
export function drawFrameViews(
  ctx: ViewContext,
  clip: number,
  memory: MixupMemory,
  rng: Rng,
): [ViewDraw, ViewDraw] {
  const offset = drawOffset(ctx.clips.length(clip), ctx.cropLength, rng);
  const crop = { clip, offset };
  const { alpha, partner } = memory.draw(crop, rng);
  const box = drawFrequencyBox(ctx.nMels, cropFrames(ctx.cropLength), rng);
  return [
    { crop, alpha: 0, partner: null, box: null },
    { crop, alpha, partner, box, timeScale: 1.0 },
  ];
}
