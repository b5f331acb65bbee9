import assert from "node:assert/strict";
import { join } from "node:path";
import { logMel } from "../lib/features/mel.ts";
import { prepareData } from "../lib/train/data.ts";
import {
  type FrameFeed,
  Sampler,
  type StepViews,
  STREAM,
  ViewFeed,
} from "../lib/train/step_views.ts";
import { blockMask, FRAME_MASK } from "../lib/train/frame_masks.ts";
import { mixSeed, Rng } from "../lib/rng.ts";
import { cropSamples, MixupMemory, type ViewContext } from "../lib/train/views.ts";
import { fixture } from "./_helpers.ts";

const FILES = ["long_13s.flac", "stereo_44k.wav", "mono_8k.wav", "codecs/vorbis.ogg"];
const BATCH = 4, SEED = 11, STEPS = 5;

/** The fixture recordings decoded into `dir`/cache, and the view context of 0.3 s crops over them. */
async function fixtureViews(dir: string) {
  const data = await prepareData(FILES.map((f) => fixture("audio", f)), join(dir, "cache"), {
    warn: () => {},
    jobs: 1,
  });
  const ctx: ViewContext = {
    clips: data.clips,
    cropLength: cropSamples(0.3),
    nMels: 64,
    featurize: (crop) => logMel(crop).data,
  };
  return { data, ctx };
}

/** The views of STEPS steps from `start` (memories of capacity 3, so they wrap). */
async function takeAll(
  ctx: ViewContext,
  share: { first: number; count: number },
  opts: ConstructorParameters<typeof ViewFeed>[3],
  start = 0,
  memories = [new MixupMemory({ capacity: 3 }), new MixupMemory({ capacity: 3 })],
  frame?: FrameFeed,
): Promise<StepViews[]> {
  const sampler = new Sampler(ctx.clips.count, SEED);
  const feed = new ViewFeed(ctx, { batch: BATCH, seed: SEED, sampler, share, start, frame }, [
    memories[0]!,
    memories[1]!,
  ], opts);
  try {
    const out: StepViews[] = [];
    for (let s = start; s < start + STEPS; s++) out.push(await feed.take(s));
    return out;
  } finally {
    feed.close();
  }
}

Deno.test("views prepared ahead in workers are the views prepared in order, bit for bit", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_views_" });
  try {
    const { data, ctx } = await fixtureViews(dir);
    const all = { first: 0, count: BATCH };
    const inOrder = await takeAll(ctx, all, { prefetch: 0 });
    await t.step("2 workers, 3 steps ahead", async () => {
      const ahead = await takeAll(ctx, all, { prefetch: 3, workers: 2, table: data.clips.table });
      for (let s = 0; s < STEPS; s++) {
        assert.equal(ahead[s]!.views.length, 2 * BATCH * 64 * 31);
        assert.deepEqual(ahead[s]!.views, inOrder[s]!.views, `views of step ${s}`);
        assert.deepEqual(ahead[s]!.memories, inOrder[s]!.memories, `memories after step ${s}`);
      }
    });
    await t.step("one rank's share is its rows of the whole batch", async () => {
      const half = await takeAll(ctx, { first: 2, count: 2 }, {
        prefetch: 1,
        workers: 1,
        table: data.clips.table,
      });
      const size = 64 * 31;
      for (let s = 0; s < STEPS; s++) {
        const whole = inOrder[s]!.views;
        const rows = [2, 3, BATCH + 2, BATCH + 3].map((r) =>
          whole.subarray(r * size, (r + 1) * size)
        );
        const want = new Float32Array(4 * size);
        rows.forEach((r, i) => want.set(r, i * size));
        assert.deepEqual(half[s]!.views, want, `share of step ${s}`);
      }
    });
    await t.step(
      "a feed started at step 2 from step 1's memories goes on identically",
      async () => {
        const memories = inOrder[1]!.memories.map((entries) => {
          const m = new MixupMemory({ capacity: 3 });
          m.entries = entries.slice();
          return m;
        });
        const resumed = await takeAll(
          ctx,
          all,
          {
            prefetch: 2,
            workers: 2,
            table: data.clips.table,
          },
          2,
          memories,
        );
        for (let s = 2; s < STEPS; s++) {
          assert.deepEqual(resumed[s - 2]!.views, inOrder[s]!.views, `views of step ${s}`);
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ATST-Frame views and masks prepared ahead are those prepared in order, per sample", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_frame_views_" });
  try {
    const { data, ctx } = await fixtureViews(dir);
    const frame: FrameFeed = { recipe: FRAME_MASK, tokens: 7 }; // 31 frames
    const fresh = () => [new MixupMemory({ capacity: 3 }), new MixupMemory({ capacity: 3 })];
    const all = { first: 0, count: BATCH };
    const inOrder = await takeAll(ctx, all, { prefetch: 0 }, 0, fresh(), frame);
    await t.step("2 workers, 2 steps ahead: the same bits", async () => {
      const ahead = await takeAll(
        ctx,
        all,
        { prefetch: 2, workers: 2, table: data.clips.table },
        0,
        fresh(),
        frame,
      );
      for (let s = 0; s < STEPS; s++) {
        assert.deepEqual(ahead[s]!.views, inOrder[s]!.views, `views of step ${s}`);
        assert.deepEqual(ahead[s]!.masks, inOrder[s]!.masks, `masks of step ${s}`);
      }
    });
    await t.step("view 1 of a clip is the plain log-mel of view 2's crop", () => {
      const size = 64 * 31;
      const last = BATCH - 1;
      const v1 = inOrder[0]!.views.subarray(last * size, (last + 1) * size);
      assert.ok(inOrder[0]!.memories[0].length === 0, "no view-1 memory");
      const crop = inOrder[0]!.memories[1].at(-1)!; // view 2's newest crop: the last sample's
      const plain = logMel(data.clips.read(crop.clip, crop.offset, cropSamples(0.3))).data;
      assert.deepEqual(v1, plain);
    });
    await t.step(
      "each mask is a function of (seed, step, sample), whatever the share",
      async () => {
        const half = await takeAll(ctx, { first: 2, count: 2 }, { prefetch: 0 }, 0, fresh(), frame);
        for (let s = 0; s < STEPS; s++) {
          const whole = inOrder[s]!.masks!;
          assert.deepEqual(half[s]!.masks, whole.subarray(2 * 7), `share's masks of step ${s}`);
          for (let b = 0; b < BATCH; b++) {
            const want = blockMask(7, FRAME_MASK, Rng.fromState(mixSeed(SEED, STREAM.masks, s, b)));
            assert.deepEqual(whole.subarray(b * 7, (b + 1) * 7), want, `step ${s} sample ${b}`);
          }
        }
        const distinct = new Set(
          inOrder.flatMap((v) =>
            [...Array(BATCH).keys()].map((b) => v.masks!.subarray(b * 7, (b + 1) * 7).join(""))
          ),
        );
        assert.ok(distinct.size > 1, "masks differ between samples");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
