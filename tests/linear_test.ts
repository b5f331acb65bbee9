/**
 * The linear op (lib/ops/linear.ts) gives what matMul + add gives, value
 * and gradients, on every backend: through its kernel on "native", through
 * the composed ops elsewhere.
 */
import { tf } from "../lib/backend/tf.ts";
import { linear } from "../lib/ops/linear.ts";
import { LINEAR } from "../lib/ops/kernel_names.ts";
import { assertAtMost, relErr } from "./_helpers.ts";
import { assertSameAsCpu, ignore, runOn, t, TOL } from "./_native.ts";
import assert from "node:assert/strict";

const [M, IN, OUT] = [37, 19, 23];
const t2 = (shape: [number, number], seed: number) => t(shape, seed) as tf.Tensor2D;

/** Value and gradients (x, weight, bias) of sum(f(x, w, b) * up). */
const withGrads = (f: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor) => () => {
  const x = tf.mul(t2([M, IN], 1), 3) as tf.Tensor2D,
    w = t2([IN, OUT], 2),
    b = t([OUT], 3) as tf.Tensor1D;
  const up = t([M, OUT], 4);
  const loss = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(f(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), up));
  return [f(x, w, b), ...tf.grads(loss)([x, w, b])];
};
const op = withGrads((x, w, b) => linear(x, w, b));
const composed = withGrads((x, w, b) => tf.add(tf.matMul(x, w), b));
const fused = withGrads((x, w, b) => tf.fused.matMul({ a: x, b: w, bias: b }));

/** Asserts both runs give the same outputs within TOL. */
function assertClose(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.equal(got.length, want.length, `${what}: number of outputs`);
  want.forEach((w, i) => assertAtMost(relErr(got[i]!, w), TOL, `${what}: output ${i}`));
}

Deno.test("linear on cpu and its gradients equal matMul + add", async () => {
  assert.equal(tf.getKernel(LINEAR, "cpu"), undefined);
  assertClose(await runOn("cpu", op), await runOn("cpu", composed), "cpu");
});

Deno.test({
  name: "linear on native runs its kernel and matches matMul + add, gradients included",
  ignore,
  async fn(ctx) {
    assert.ok(tf.getKernel(LINEAR, "native"));
    await ctx.step("against matMul + add on native", async () => {
      assertClose(await runOn("native", op), await runOn("native", composed), "native");
    });
    await ctx.step("against matMul + add on cpu", async () => {
      await assertSameAsCpu("linear", op);
    });
    await ctx.step("it equals the fused matMul it replaces, bit for bit", async () => {
      const [got, want] = [await runOn("native", op), await runOn("native", fused)];
      got.forEach((g, i) => assert.deepEqual(g, want[i], `output ${i}`));
    });
    await ctx.step("without a bias it is the plain product", async () => {
      const f = () => linear(t2([M, IN], 8), t2([IN, OUT], 9));
      const [got] = await runOn("native", f);
      const [want] = await runOn("native", () => tf.matMul(t([M, IN], 8), t([IN, OUT], 9)));
      assert.deepEqual(got, want);
    });
  },
});
