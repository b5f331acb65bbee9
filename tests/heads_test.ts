import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { MlpHead } from "../lib/model/heads.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { assertNoTensorLeak, GOLDEN, maxAbsDiff, tensorOf, tensorOurs } from "./_train_golden.ts";

function goldenHead(): MlpHead {
  const g = GOLDEN.heads;
  const [hid, din] = g.weights["0.weight"].shape;
  const dout = g.weights["3.weight"].shape[0];
  const head = new MlpHead({ inDim: din, hidden: hid, outDim: dout }, { name: "heads_test" });
  for (const [k, v] of [...head.params(), ...head.buffers()]) {
    const t = tensorOurs(k, g.weights[k]); // PyTorch's [out, in] -> our [in, out]
    v.assign(t);
    t.dispose();
  }
  return head;
}

Deno.test("projector head matches torch Linear-BatchNorm1d-ReLU-Linear in training mode", async () => {
  await enableGradients();
  const g = GOLDEN.heads;
  const head = goldenHead();
  const x = tensorOf(g.x) as tf.Tensor2D;
  const r = tensorOf(g.r);
  await assertNoTensorLeak(() => {
    const y = head.forward(x, { training: true });
    assert.ok(maxAbsDiff(y.dataSync(), g.y_train.data) < 1e-5, "train output");
    y.dispose();
    head.commitRunningStats();
  }, "forward + commit");
  const rm = head.buffers().get("1.running_mean")!.dataSync();
  const rv = head.buffers().get("1.running_var")!.dataSync();
  assert.ok(maxAbsDiff(rm, g.running_mean.data) < 1e-6, "running mean (momentum 0.1)");
  assert.ok(maxAbsDiff(rv, g.running_var.data) < 1e-6, "running var (unbiased)");
  // Eval mode normalises with the running statistics.
  const xe = tensorOf(g.x_eval) as tf.Tensor2D;
  const ye = head.forward(xe, { training: false });
  assert.ok(maxAbsDiff(ye.dataSync(), g.y_eval.data) < 1e-5, "eval output");
  tf.dispose([xe, ye]);
  head.commitRunningStats(); // nothing pending in eval: no change
  assert.ok(
    maxAbsDiff(head.buffers().get("1.running_mean")!.dataSync(), g.running_mean.data) < 1e-6,
  );
  head.dispose();
  tf.dispose([x, r]);
});

Deno.test("projector head gradients match torch for input, first weight and BN scale", async () => {
  await enableGradients();
  const g = GOLDEN.heads;
  const head = goldenHead();
  const x = tensorOf(g.x) as tf.Tensor2D;
  const r = tensorOf(g.r);
  const p = head.params();
  const { grads, value } = tf.variableGrads(() =>
    tf.sum(tf.mul(head.forward(x, { training: true }), r))
  );
  const gw0 = tf.transpose(grads[p.get("0.weight")!.name]!); // back to PyTorch's [out, in]
  assert.ok(maxAbsDiff(gw0.dataSync(), g.grad_w0.data) < 1e-5, "dW0");
  gw0.dispose();
  assert.ok(
    maxAbsDiff(grads[p.get("1.weight")!.name]!.dataSync(), g.grad_bn_weight.data) < 1e-5,
    "dBN",
  );
  const gx = tf.grad((xx: tf.Tensor) =>
    tf.sum(tf.mul(head.forward(xx as tf.Tensor2D, { training: true }), r))
  )(x);
  assert.ok(maxAbsDiff(gx.dataSync(), g.grad_x.data) < 1e-5, "dx");
  tf.dispose([value, gx, x, r, ...Object.values(grads)]);
  head.dispose();
});

Deno.test("a head of the reference widths initialises like torch and refuses a batch of one", () => {
  const head = new MlpHead({ inDim: 192, hidden: 4096, outDim: 256 }, {
    name: "heads_init",
    seed: 3,
  });
  const w0 = head.params().get("0.weight")!;
  assert.deepEqual(w0.shape, [192, 4096]);
  const vals = w0.dataSync();
  const bound = 1 / Math.sqrt(192);
  let max = 0;
  for (const v of vals) max = Math.max(max, Math.abs(v));
  assert.ok(max <= bound && max > 0.99 * bound, `U(-1/sqrt(in), 1/sqrt(in)): max ${max}`);
  assert.deepEqual(head.params().get("3.weight")!.shape, [4096, 256]);
  const one = tf.zeros([1, 192]) as tf.Tensor2D;
  assert.throws(() => head.forward(one, { training: true }), /at least 2 rows/);
  one.dispose();
  head.dispose();
});
