/**
 * The native backend's fused optimiser kernels (one pass per parameter)
 * give exactly what the composed tfjs ops give on the cpu backend.
 */
import { tf } from "../lib/backend/tf.ts";
import { adamwStep } from "../lib/ops/adamw_step.ts";
import { emaStep } from "../lib/ops/ema_step.ts";
import { ignore, rand, runOn } from "./_native.ts";
import assert from "node:assert/strict";

const SHAPE = [37, 129]; // large enough for the buffer pool, odd sizes

/** Index of the first differing element, or -1. */
const firstDiff = (a: Float32Array, b: Float32Array) => a.findIndex((x, i) => !Object.is(x, b[i]));

Deno.test({
  name: "native AdamW step equals the composed ops bit for bit, with and without decay",
  ignore,
  async fn() {
    for (const decay of [0, -1e-3 * 0.05]) {
      const step = () => {
        const p = tf.tensor(rand(37 * 129, 1), SHAPE);
        const g = tf.tensor(rand(37 * 129, 2), SHAPE).mul(0.01);
        const m = tf.tensor(rand(37 * 129, 3), SHAPE).mul(0.001);
        const v = tf.tensor(rand(37 * 129, 4), SHAPE).square().mul(1e-5);
        const h = {
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-6,
          stepSize: 1e-3 * Math.sqrt(0.002) / 0.1,
          decay,
        };
        return adamwStep(p, g, m, v, h);
      };
      const [native, cpu] = [await runOn("native", step), await runOn("cpu", step)];
      assert.ok(tf.getKernel("AtstAdamW", "native") && !tf.getKernel("AtstAdamW", "cpu"));
      native.forEach((got, k) =>
        assert.equal(firstDiff(got, cpu[k]!), -1, `output ${k}, decay ${decay}`)
      );
    }
  },
});

Deno.test({
  name: "native EMA step equals the composed ops bit for bit",
  ignore,
  async fn() {
    const step = () =>
      emaStep(tf.tensor(rand(4773, 5), [4773]), tf.tensor(rand(4773, 6), [4773]), 0.996);
    const [native, cpu] = [await runOn("native", step), await runOn("cpu", step)];
    assert.equal(firstDiff(native[0]!, cpu[0]!), -1);
  },
});
