import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { AdamW, paramGroups } from "../lib/train/adamw.ts";
import { type Arr, assertNoTensorLeak, GOLDEN, maxAbsDiff, tensorOf } from "./_train_golden.ts";
import { ignore } from "./_native.ts";

Deno.test("parameter groups decay weights of rank >= 2 and spare biases and norms", () => {
  const params = new Map<string, tf.Variable>();
  for (const [k, v] of Object.entries(GOLDEN.adamw.init as Record<string, Arr>)) {
    params.set(k, tf.variable(tensorOf(v)));
  }
  const { decay, noDecay } = paramGroups(params);
  assert.deepEqual(decay.sort(), ["cls_token", "fc.weight"]);
  assert.deepEqual(noDecay.sort(), ["fc.bias", "norm.weight"]);
  for (const v of params.values()) v.dispose();
});

Deno.test("AdamW matches the transformers algorithm over three steps with changing lr and wd", async () => {
  await tf.setBackend("cpu");
  await goldenAdamW();
});

Deno.test({
  name: "AdamW's fused native kernel matches the transformers algorithm too",
  ignore,
  async fn() {
    await tf.setBackend("native");
    try {
      await goldenAdamW();
    } finally {
      await tf.setBackend("cpu");
    }
  },
});

async function goldenAdamW() {
  const g = GOLDEN.adamw;
  const params = new Map<string, tf.Variable>();
  for (const [k, v] of Object.entries(g.init as Record<string, Arr>)) {
    params.set(k, tf.variable(tensorOf(v), true, `adamw_test/${k}`));
  }
  const opt = new AdamW(params, { name: "adamw_test" });
  // Moments exist after the first step; after that the count must stay flat.
  let afterFirst = -1;
  for (
    const [n, step] of (g.steps as {
      lr: number;
      wd: number;
      grads: Record<string, Arr>;
      params: Record<string, Arr>;
    }[]).entries()
  ) {
    const grads = Object.fromEntries(Object.entries(step.grads).map(([k, a]) => [k, tensorOf(a)]));
    if (n === 0) {
      opt.update(grads, step.lr, step.wd);
      afterFirst = tf.memory().numTensors;
    } else {
      await assertNoTensorLeak(() => opt.update(grads, step.lr, step.wd), "AdamW.update");
    }
    for (const t of Object.values(grads)) t.dispose();
    for (const [k, want] of Object.entries(step.params)) {
      const got = params.get(k)!.dataSync();
      assert.ok(
        maxAbsDiff(got, want.data) < 2e-6,
        `${k} after step ${n + 1}: ${maxAbsDiff(got, want.data)}`,
      );
    }
  }
  assert.ok(afterFirst > 0);
  assert.equal(opt.step, 3);
  assert.equal(opt.state().size, 8);
  opt.dispose();
  for (const v of params.values()) v.dispose();
}

Deno.test("AdamW state saved and restored continues identically", () => {
  const mk = (name: string) =>
    new Map([["w", tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, `${name}/w`)]]);
  const a = mk("adamw_a"), b = mk("adamw_b");
  const oa = new AdamW(a), ob = new AdamW(b);
  const g1 = { w: tf.tensor2d([[0.1, -0.2], [0.3, 0.5]]) };
  const g2 = { w: tf.tensor2d([[-0.4, 0.2], [0.1, 0.0]]) };
  oa.update(g1, 0.1, 0.1);
  ob.loadState(oa.state(), oa.step);
  b.get("w")!.assign(a.get("w")!);
  oa.update(g2, 0.1, 0.1);
  ob.update(g2, 0.1, 0.1);
  assert.deepEqual(Array.from(a.get("w")!.dataSync()), Array.from(b.get("w")!.dataSync()));
  for (const t of [...a.values(), ...b.values(), g1.w, g2.w]) t.dispose();
  oa.dispose();
  ob.dispose();
});
