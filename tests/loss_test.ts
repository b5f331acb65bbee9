import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { byolLoss, emaUpdate, outputStd } from "../lib/train/loss.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { assertNoTensorLeak, GOLDEN, maxAbsDiff, tensorOf } from "./_train_golden.ts";

Deno.test("BYOL loss over both cross pairs matches the reference value and gradient", async () => {
  await enableGradients();
  const g = GOLDEN.loss;
  const s = tensorOf(g.student) as tf.Tensor2D;
  const t = tensorOf(g.teacher) as tf.Tensor2D;
  await assertNoTensorLeak(() => {
    const loss = byolLoss(s, t);
    assert.ok(
      Math.abs(loss.dataSync()[0]! - g.loss) < 1e-6,
      `loss ${loss.dataSync()[0]} vs ${g.loss}`,
    );
    loss.dispose();
    const grad = tf.grad((x: tf.Tensor) => byolLoss(x as tf.Tensor2D, t))(s);
    assert.ok(maxAbsDiff(grad.dataSync(), g.grad_student.data) < 1e-6, "gradient");
    grad.dispose();
  }, "byolLoss");
  s.dispose();
  t.dispose();
});

Deno.test("collapse monitor std matches the reference and falls to ~0.001 on collapse", () => {
  const g = GOLDEN.loss;
  for (const [key, want] of [["student", g.std_student], ["teacher", g.std_teacher]] as const) {
    const y = tensorOf(g[key]) as tf.Tensor2D;
    const got = outputStd(y);
    assert.ok(
      Math.abs(got.dataSync()[0]! - want) < 1e-6,
      `${key}: ${got.dataSync()[0]} vs ${want}`,
    );
    tf.dispose([y, got]);
  }
  const collapsed = tf.ones([8, 16]) as tf.Tensor2D;
  const std = outputStd(collapsed);
  assert.ok(Math.abs(std.dataSync()[0]! - 1e-3) < 1e-5);
  tf.dispose([collapsed, std]);
});

Deno.test("EMA update moves the teacher towards the student by 1 - m", async () => {
  const g = GOLDEN.ema;
  const t = new Map([["w", tf.variable(tensorOf(g.teacher), false, "ema_test/t")]]);
  const s = new Map([["w", tf.variable(tensorOf(g.student), true, "ema_test/s")]]);
  await assertNoTensorLeak(() => emaUpdate(t, s, g.m), "emaUpdate");
  assert.ok(maxAbsDiff(t.get("w")!.dataSync(), g.out.data) < 1e-7);
  const stray = new Map([["x", tf.variable(tf.zeros([1]), false, "ema_test/x")]]);
  assert.throws(() => emaUpdate(stray, s, 0.5), /student has no parameter 'x'/);
  for (const v of [...t.values(), ...s.values(), ...stray.values()]) v.dispose();
});
