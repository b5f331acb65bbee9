import assert from "node:assert/strict";
import { Rng } from "../lib/rng.ts";
import {
  bicubicResize,
  cropAt,
  cropFrames,
  cropSamples,
  drawCropBox,
  drawOffset,
  logMixupExp,
  makeView,
  memoryClips,
  MixupMemory,
  resizeCrop,
} from "../lib/train/views.ts";
import { GOLDEN, maxAbsDiff } from "./_train_golden.ts";

Deno.test("resize crop matches torch bicubic interpolate (align_corners) on fixed boxes", async (t) => {
  const g = GOLDEN.resize_crop;
  const x = Float32Array.from(g.x.data as number[]);
  for (const c of g.cases) {
    await t.step(`box ${JSON.stringify(c.box)}`, () => {
      const out = resizeCrop(x, 64, c.box);
      assert.ok(maxAbsDiff(out, c.out.data) < 2e-5, `max diff ${maxAbsDiff(out, c.out.data)}`);
    });
  }
});

Deno.test("bicubic resize to the same size is the identity", () => {
  const src = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
  assert.ok(maxAbsDiff(bicubicResize(src, 3, 4, 3, 4), src) < 1e-6);
});

Deno.test("log-mixup-exp matches BYOL-A's formula", () => {
  const g = GOLDEN.mixup;
  const out = logMixupExp(Float32Array.from(g.x.data), Float32Array.from(g.z.data), g.alpha);
  assert.ok(maxAbsDiff(out, g.out.data) < 2e-6, `max diff ${maxAbsDiff(out, g.out.data)}`);
});

Deno.test("crop draws stay in range and short clips are zero-padded", () => {
  const rng = new Rng(7);
  for (let i = 0; i < 200; i++) {
    const off = drawOffset(1000, 300, rng);
    assert.ok(off >= 0 && off <= 700);
  }
  assert.equal(drawOffset(100, 300, rng), 0);
  const c = cropAt(Float32Array.from([1, 2, 3]), 5, 0);
  assert.deepEqual(Array.from(c), [1, 2, 3, 0, 0]);
  assert.equal(cropFrames(cropSamples(6)), 601);
});

Deno.test("crop boxes follow the spec's ranges", () => {
  const rng = new Rng(11);
  for (let n = 0; n < 500; n++) {
    const b = drawCropBox(64, 101, rng);
    assert.ok(b.h >= 38 && b.h <= 64, `h ${b.h}`);
    assert.ok(b.w >= 60 && b.w <= 151, `w ${b.w}`);
    assert.ok(b.i >= 0 && b.i + b.h <= 64);
    assert.ok(b.j >= 0 && b.j + b.w <= 151);
  }
});

Deno.test("mixup memory is a FIFO of crop descriptors, mixing only once it holds one", () => {
  const mem = new MixupMemory({ capacity: 3 });
  const rng = new Rng(1);
  const seen: number[] = [];
  const feats = (r: { clip: number }) => {
    seen.push(r.clip);
    return new Float32Array(4).fill(r.clip);
  };
  const x0 = new Float32Array(4).fill(-1);
  assert.equal(mem.apply(x0, { clip: 0, offset: 0 }, 2, rng, feats), x0, "empty memory: unchanged");
  for (let i = 1; i <= 4; i++) mem.apply(x0, { clip: i, offset: i }, 2, rng, feats);
  assert.deepEqual(mem.entries.map((e) => e.clip), [2, 3, 4]);
  assert.equal(seen.length, 4, "one remembered crop recomputed per mix");
});

Deno.test("views are reproducible from the seed and differ between seeds", () => {
  const clips = [
    Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i / 5)),
    new Float32Array(1000).fill(0.1),
  ];
  // A stand-in featuriser: 64 bands x frames of the crop's running mean.
  const featurize = (crop: Float32Array) => {
    const t = cropFrames(crop.length);
    const out = new Float32Array(64 * t);
    for (let f = 0; f < 64; f++) {
      for (let k = 0; k < t; k++) {
        out[f * t + k] = crop[Math.min(k * 160, crop.length - 1)]! * (f + 1) / 64;
      }
    }
    return out;
  };
  const ctx = { clips: memoryClips(clips), cropLength: 1600, nMels: 64, featurize };
  const run = (seed: number) => {
    const rng = new Rng(seed);
    const mem = new MixupMemory();
    return [0, 1, 0].map((c) => makeView(ctx, c, mem, rng));
  };
  const a = run(5), b = run(5), c = run(6);
  for (let i = 0; i < 3; i++) {
    assert.equal(a[i]!.length, 64 * 11);
    assert.deepEqual(a[i], b[i]);
  }
  assert.notDeepEqual(a[2], c[2]);
});
