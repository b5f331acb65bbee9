/**
 * The views of every training step, prepared ahead. A step's draws (which
 * clips, crops, mixup partners and weights, resize boxes) are made on the
 * main thread, in step order, from the per-step PRNG and the mixup
 * memories; rendering them (crop read, log-mel, mixup, resize crop) is a
 * pure function of the draws, so it runs in worker threads for steps s + 1
 * .. s + K while step s computes and gives the same bits as rendering in
 * order. The memories as they stood after each step's draws travel with
 * its views, so a checkpoint stores those of the step it was taken at.
 * ATST-Frame runs draw one crop per clip (frame_views.ts) and one token
 * mask per sample, seeded by (seed, step, sample) (frame_masks.ts).
 *
 * @module
 */
import { mixSeed, Rng } from "../rng.ts";
import { WorkerPool } from "../features/worker_pool.ts";
import type { ClipTable } from "./cache_shards.ts";
import { drawFrameViews } from "./frame_views.ts";
import { blockMask, FRAME_MASK, type MaskRecipe } from "./frame_masks.ts";
import type { TrainConfig } from "./config.ts";
import {
  cropFrames,
  type CropRef,
  cropSamples,
  drawView,
  MixupMemory,
  renderView,
  type ViewContext,
  type ViewDraw,
} from "./views.ts";

/** Streams of the per-step PRNG (one seed per purpose and step). */
export const STREAM = { views: 1, dropStudent: 2, dropTeacher: 3, order: 4, masks: 5 } as const;

/** ATST-Frame's mask recipe and tokens per crop for `cfg`; undefined for ATST-Clip. */
export function frameFeed(
  cfg: Pick<TrainConfig, "encoder" | "mask" | "cropSeconds">,
): FrameFeed | undefined {
  const { encoder, mask } = cfg;
  if (encoder.family !== "frame") return undefined;
  const tokens = Math.floor(cropFrames(cropSamples(cfg.cropSeconds)) / encoder.patchFrames);
  return { recipe: mask ?? FRAME_MASK, tokens };
}

/** Clip index of sample `k` of the run: a fresh permutation every epoch. */
export class Sampler {
  #epoch = -1;
  #perm: Int32Array = new Int32Array(0);
  constructor(readonly count: number, readonly seed: number) {}
  /** The clip of global sample `k` (step * batch + b). */
  clip(k: number): number {
    const epoch = Math.floor(k / this.count);
    if (epoch !== this.#epoch) {
      this.#perm = Rng.fromState(mixSeed(this.seed, STREAM.order, epoch)).permutation(this.count);
      this.#epoch = epoch;
    }
    return this.#perm[k % this.count]!;
  }
}

/** Which rows of the global batch this process renders: `count` clips from `first`. */
export interface Share {
  first: number;
  count: number;
}

/** One step's views: [2b, nMels, T] (view 1 of the share's b clips, then view 2). */
export interface StepViews {
  views: Float32Array;
  /** Seconds the caller waited for them. */
  waited: number;
  /** The mixup memories after this step's draws. */
  memories: [CropRef[], CropRef[]];
  /** ATST-Frame: the token masks of the share's clips, [b, N] (1 = masked; both views share). */
  masks?: Uint8Array;
}

/** ATST-Frame's views and masks: one crop per clip, its two views, one mask of `tokens`. */
export interface FrameFeed {
  recipe: MaskRecipe;
  /** Tokens of a crop: floor(frames / patchFrames). */
  tokens: number;
}

/** How the views are prepared. */
export interface FeedOptions {
  /** Steps prepared ahead of the one being trained (0: each step in turn, here). */
  prefetch?: number;
  /** Worker threads rendering them (default: the machine's cores). */
  workers?: number;
  /** Where the clips are, for the workers (without it: rendered here). */
  table?: ClipTable;
}

/** Initial message of lib/train/view_worker.ts. */
export interface ViewWorkerInit {
  table: ClipTable;
  cropLength: number;
  nMels: number;
}

interface Drawn {
  draws: ViewDraw[];
  memories: [CropRef[], CropRef[]];
  masks?: Uint8Array;
}

/**
 * Hands out the views of steps `start`, `start + 1`, ... in order. Every
 * view of the global batch (`batch` clips, two views each) is drawn, so the
 * memories are those of one process; only `share`'s are rendered.
 */
export class ViewFeed {
  readonly #ctx: ViewContext;
  readonly #sampler: Sampler;
  readonly #cfg: { batch: number; seed: number; frame?: FrameFeed };
  readonly #share: Share;
  readonly #memories: [MixupMemory, MixupMemory];
  readonly #prefetch: number;
  readonly #pool: WorkerPool<ViewDraw[], Float32Array> | null;
  readonly #ready = new Map<number, Drawn & { views?: Promise<Float32Array> }>();
  #drawn: number;
  #next: number;

  /** `memories` are copied: the feed draws ahead on its own. */
  constructor(
    ctx: ViewContext,
    run: {
      batch: number;
      seed: number;
      sampler: Sampler;
      share: Share;
      start: number;
      /** ATST-Frame runs: their views and masks (absent: ATST-Clip's two crops). */
      frame?: FrameFeed;
    },
    memories: [MixupMemory, MixupMemory],
    opts: FeedOptions = {},
  ) {
    this.#ctx = ctx;
    this.#cfg = { batch: run.batch, seed: run.seed, frame: run.frame };
    this.#sampler = run.sampler;
    this.#share = run.share;
    this.#memories = memories.map((m) => {
      const copy = new MixupMemory({ capacity: m.capacity, ratio: m.ratio });
      copy.entries = m.entries.slice();
      return copy;
    }) as [MixupMemory, MixupMemory];
    this.#drawn = this.#next = run.start;
    const prefetch = opts.table ? Math.max(0, opts.prefetch ?? 0) : 0;
    this.#prefetch = prefetch;
    this.#pool = prefetch > 0
      ? new WorkerPool(
        new URL("./view_worker.ts", import.meta.url),
        opts.workers ?? navigator.hardwareConcurrency,
        { init: { table: opts.table!, cropLength: ctx.cropLength, nMels: ctx.nMels } },
      )
      : null;
  }

  /** Step `step`'s views; steps must be taken in order from `start`. */
  async take(step: number): Promise<StepViews> {
    if (step !== this.#next) throw new Error(`View feed: step ${step} asked, ${this.#next} next`);
    const t0 = performance.now();
    while (this.#drawn <= step + this.#prefetch) this.#prepare(this.#drawn++);
    const drawn = this.#ready.get(step)!;
    this.#ready.delete(step);
    this.#next++;
    const views = drawn.views ? await drawn.views : renderViews(this.#ctx, drawn.draws);
    return {
      views,
      waited: (performance.now() - t0) / 1000,
      memories: drawn.memories,
      masks: drawn.masks,
    };
  }

  /** Stops the workers. */
  close(): void {
    this.#pool?.close();
  }

  /** Draws step `step` and, with workers, starts rendering it. */
  #prepare(step: number): void {
    const drawn = this.#draw(step);
    if (!this.#pool) {
      this.#ready.set(step, drawn);
      return;
    }
    const size = this.#ctx.nMels * cropFrames(this.#ctx.cropLength);
    const n = drawn.draws.length, per = Math.ceil(n / this.#pool.size);
    const parts: Promise<void>[] = [];
    const out = new Float32Array(n * size);
    for (let i = 0; i < n; i += per) {
      const part = this.#pool.run(drawn.draws.slice(i, i + per));
      parts.push(part.then((x) => out.set(x, i * size)));
    }
    const views = Promise.all(parts).then(() => out);
    views.catch(() => {}); // awaited by take(); a failure must not go unhandled meanwhile
    this.#ready.set(step, { ...drawn, views });
  }

  /** Every view of the step drawn in order; the share's in output order. */
  #draw(step: number): Drawn {
    const { batch, seed, frame } = this.#cfg;
    const { first, count } = this.#share;
    const rng = Rng.fromState(mixSeed(seed, STREAM.views, step));
    const draws: ViewDraw[] = new Array(2 * count);
    for (let b = 0; b < batch; b++) {
      const clip = this.#sampler.clip(step * batch + b);
      const [v1, v2] = frame ? drawFrameViews(this.#ctx, clip, this.#memories[1], rng) : [
        drawView(this.#ctx, clip, this.#memories[0], rng),
        drawView(this.#ctx, clip, this.#memories[1], rng),
      ];
      if (b < first || b >= first + count) continue;
      draws[b - first] = v1;
      draws[count + b - first] = v2;
    }
    let masks: Uint8Array | undefined;
    if (frame) {
      // Each mask is a function of (seed, step, sample) alone, whatever the share.
      masks = new Uint8Array(count * frame.tokens);
      for (let b = 0; b < count; b++) {
        const rngMask = Rng.fromState(mixSeed(seed, STREAM.masks, step, first + b));
        masks.set(blockMask(frame.tokens, frame.recipe, rngMask), b * frame.tokens);
      }
    }
    return {
      draws,
      memories: [this.#memories[0].entries.slice(), this.#memories[1].entries.slice()],
      masks,
    };
  }
}

/** Renders `draws` into one buffer, view after view (here and in the workers). */
export function renderViews(ctx: ViewContext, draws: ViewDraw[]): Float32Array {
  const size = ctx.nMels * cropFrames(ctx.cropLength);
  const out = new Float32Array(draws.length * size);
  draws.forEach((d, i) => out.set(renderView(ctx, d), i * size));
  return out;
}
