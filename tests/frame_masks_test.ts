import assert from "node:assert/strict";
import { mixSeed, Rng } from "../lib/rng.ts";
import { blockMask, FRAME_MASK, maskedIndices, spanStarts } from "../lib/train/frame_masks.ts";
import { fixture } from "./_helpers.ts";

// Written by tools/gen_frame_train_fixtures.py: fairseq's static masks drawn 20 000 times.
const STATS = JSON.parse(Deno.readTextFileSync(fixture("train", "frame_golden.json"))).mask_stats;

Deno.test("block masks on 250 tokens follow fairseq's static compute_mask_indices", async (t) => {
  const draws = 2000;
  let masked = 0;
  const spans = new Map<number, number>();
  for (let seed = 0; seed < draws; seed++) {
    const starts = spanStarts(250, FRAME_MASK, Rng.fromState(mixSeed(9, 5, seed)));
    const mask = blockMask(250, FRAME_MASK, Rng.fromState(mixSeed(9, 5, seed)));
    spans.set(starts.length, (spans.get(starts.length) ?? 0) + 1);
    assert.equal(new Set(starts).size, starts.length, `seed ${seed}: distinct starts`);
    assert.ok(starts.every((s) => s >= 0 && s <= 244), `seed ${seed}: starts in range(T - 5)`);
    const union = new Uint8Array(250);
    for (const s of starts) union.fill(1, s, s + 5);
    assert.deepEqual(mask, union, `seed ${seed}: the mask is the union of 5-token spans`);
    assert.equal(mask[249], 0, `seed ${seed}: the last token is never masked`);
    masked += mask.reduce((a, b) => a + b, 0);
  }
  await t.step("32 or 33 spans (int(32.5 + U)), about equally often", () => {
    assert.deepEqual([...spans.keys()].sort(), STATS.spans);
    assert.ok(Math.abs(spans.get(33)! / draws - 0.5) < 0.05, `33 spans in ${spans.get(33)}`);
  });
  await t.step("the masked fraction averages the reference's", () => {
    const mean = masked / (250 * draws);
    // The mean of 2000 draws has a standard error of 0.0275 / sqrt(2000) = 0.0006.
    assert.ok(
      Math.abs(mean - STATS.mean_fraction) < 0.003,
      `${mean} vs ${STATS.mean_fraction}`,
    );
  });
});

Deno.test("short sequences shrink the start range as fairseq does", () => {
  // T = 7: num = max(2, int(0.91 + U)) = 2 >= T - 5, so starts come from range(num + 1).
  for (let seed = 0; seed < 50; seed++) {
    const starts = spanStarts(7, FRAME_MASK, Rng.fromState(seed));
    assert.equal(starts.length, 2);
    assert.ok(starts.every((s) => s <= 2), `${starts}`);
  }
  assert.deepEqual(blockMask(0, FRAME_MASK, new Rng(1)), new Uint8Array(0));
  const one = blockMask(1, FRAME_MASK, new Rng(1));
  assert.equal(one.length, 1);
});

Deno.test("masked indices are row-major, as PyTorch's x[mask] keeps them", () => {
  assert.deepEqual(maskedIndices(Uint8Array.of(0, 1, 1, 0, 1, 0)), Int32Array.of(1, 2, 4));
});
