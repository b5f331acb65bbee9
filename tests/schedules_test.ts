import assert from "node:assert/strict";
import { defaultTrainConfig } from "../lib/train/config.ts";
import { cosineSchedule, trainSchedules } from "../lib/train/schedules.ts";
import { GOLDEN, maxAbsDiff } from "./_train_golden.ts";

Deno.test("schedules match DINO's cosine_scheduler for lr, weight decay and EMA momentum", () => {
  const g = GOLDEN.schedules;
  const cfg = { ...defaultTrainConfig({ steps: g.steps, batch: g.batch }), warmup: g.warmup };
  assert.equal(cfg.lr, 5e-4 * g.batch / 256, "the default peak follows the batch");
  const s = trainSchedules(cfg);
  assert.equal(s.lr.length, g.steps);
  assert.ok(maxAbsDiff(s.lr, g.lr) < 1e-15, "lr");
  assert.ok(maxAbsDiff(s.wd, g.wd) < 1e-15, "wd");
  assert.ok(maxAbsDiff(s.ema, g.ema) < 1e-15, "ema");
});

Deno.test("learning rate warms up from 0 to the peak, then decays to the floor", () => {
  const lr = cosineSchedule({ base: 1e-3, final: 1e-6, steps: 100, warmup: 10 });
  assert.equal(lr[0], 0);
  assert.equal(lr[9], 1e-3);
  assert.equal(lr[10], 1e-3);
  for (let i = 11; i < 100; i++) assert.ok(lr[i]! < lr[i - 1]!, `step ${i} decays`);
  assert.ok(lr[99]! > 1e-6 && lr[99]! < 2e-6);
});

Deno.test("an overridden peak learning rate replaces the batch rule", () => {
  const s = trainSchedules({ ...defaultTrainConfig({ steps: 5, batch: 8 }), warmup: 0, lr: 0.01 });
  assert.equal(s.lr[0], 0.01);
  assert.equal(s.ema[0], 0.99);
  assert.ok(Math.abs(s.wd[0]! - 0.04) < 1e-15);
});

Deno.test("a schedule of zero steps is refused", () => {
  assert.throws(() => cosineSchedule({ base: 1, final: 0, steps: 0 }), /steps must be positive/);
});
