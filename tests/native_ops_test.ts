/**
 * The "native" backend's elementwise, layout, softmax, fused GELU /
 * LayerNorm and attention kernels agree with tfjs's cpu backend (or with
 * the same math composed from tfjs ops), gradients included.
 */
import { tf } from "../lib/backend/tf.ts";
import { gelu } from "../lib/ops/gelu.ts";
import { layerNorm } from "../lib/ops/layer_norm.ts";
import { attention } from "../lib/ops/attention.ts";
import { geluBackward, geluForward } from "../lib/backend/native/gelu.ts";
import { softmaxRows } from "../lib/backend/native/softmax.ts";
import { loadDnnl } from "../lib/backend/native/_dnnl.ts";
import { assertAtMost, relErr } from "./_helpers.ts";
import { assertSameAsCpu, ignore, rand, t, TOL } from "./_native.ts";
import assert from "node:assert/strict";

Deno.test({
  name: "native elementwise ops match cpu under every broadcast pattern the encoder uses",
  ignore,
  async fn() {
    const pairs: [number[], number[]][] = [
      [[4, 7, 9], [4, 7, 9]], // same shape
      [[4, 7, 9], [9]], // row vector (bias, LayerNorm weight)
      [[4, 7, 9], [4, 7, 1]], // per-row value (x - mean)
      [[2, 3, 5, 5], [2, 1, 1, 5]], // attention key mask
      [[4, 7, 9], []], // scalar
      [[1, 7, 1], [4, 1, 9]], // both sides broadcast
      [[2, 1, 3, 1, 4, 1], [1, 5, 1, 6, 1, 7]], // needs the cpu fallback
    ];
    for (const [sa, sb] of pairs) {
      await assertSameAsCpu(`binary ${sa} ${sb}`, () => {
        const a = t(sa, 50), b = tf.add(t(sb, 51), 1.5); // keep divisors away from 0
        return [
          tf.add(a, b),
          tf.sub(b, a),
          tf.mul(a, b),
          tf.div(a, b),
          tf.squaredDifference(a, b),
          tf.maximum(a, b),
          tf.minimum(b, a),
        ];
      });
    }
    await assertSameAsCpu("unary", () => {
      const x = tf.mul(t([5, 300], 52), 6);
      const pos = tf.add(tf.abs(x), 0.1);
      return [
        tf.exp(x),
        tf.log(pos),
        tf.sqrt(pos),
        tf.rsqrt(pos),
        tf.square(x),
        tf.neg(x),
        tf.abs(x),
        tf.reciprocal(pos),
        tf.tanh(x),
        tf.sigmoid(x),
        tf.relu(x),
        tf.erf(x),
      ];
    });
    await assertSameAsCpu(
      "int32 falls back",
      () => tf.add(tf.tensor1d([1, 2, 3], "int32"), tf.scalar(4, "int32")),
    );
  },
});

Deno.test({
  name: "native transpose, slice and reductions match cpu",
  ignore,
  async fn() {
    await assertSameAsCpu(
      "transpose heads",
      () => tf.transpose(t([2, 5, 3, 4, 6], 60), [2, 0, 3, 1, 4]),
    );
    await assertSameAsCpu("transpose back", () => tf.transpose(t([2, 4, 5, 6], 61), [0, 2, 1, 3]));
    await assertSameAsCpu("transpose 2d", () => tf.transpose(t([37, 23], 62)));
    await assertSameAsCpu(
      "transpose int32",
      () => tf.transpose(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32")),
    );
    await assertSameAsCpu(
      "slice",
      () => [
        tf.slice(t([2, 8, 13], 63), [0, 0, 0], [2, 8, 12]),
        tf.slice(t([1, 9, 5], 64), [0, 2, 1], [1, 4, 3]),
      ],
    );
    await assertSameAsCpu("reductions", () => {
      const x = t([3, 4, 5, 6], 65);
      return [
        tf.sum(x, -1),
        tf.mean(x, -1, true),
        tf.max(x, 3),
        tf.min(x, -1),
        tf.sum(x, 0),
        tf.mean(x, [0, 1]),
        tf.sum(x, [1, 2], true),
        tf.max(x, [1, 2]),
        tf.sum(x, [0, 2]),
        tf.sum(x), // non-contiguous axes and all axes
      ];
    });
  },
});

Deno.test({
  name: "native softmax matches cpu, masked rows included",
  ignore,
  async fn() {
    await assertSameAsCpu("softmax", () => {
      const logits = tf.mul(t([2, 3, 7, 7], 70), 8);
      const mask = tf.tensor4d([0, 0, 0, 0, -1e4, -1e4, -1e4, 0, 0, 0, 0, 0, 0, 0], [2, 1, 1, 7]);
      return tf.softmax(tf.add(logits, mask));
    });
    await assertSameAsCpu("softmax grads", () => {
      const w = t([4, 9], 71);
      return tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(x), w)))([
        tf.mul(t([4, 9], 72), 3),
      ]);
    });
  },
});

Deno.test({
  name: "fused GELU and LayerNorm on native match the composed formulas on cpu, gradients included",
  ignore,
  async fn() {
    const fn = () => {
      const x = tf.mul(t([3, 11, 16], 80), 4);
      const w = tf.add(t([16], 81), 1), b = t([16], 82), up = t([3, 11, 16], 83);
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(gelu(layerNorm(x, w, b, 1e-6)), up));
      return [gelu(x), layerNorm(x, w, b, 1e-6), ...tf.grads(f)([x, w, b])];
    };
    // On cpu these take the composed path (no fused kernels there), so this compares two implementations.
    await tf.setBackend("cpu");
    assert.equal(tf.getKernel("AtstGelu", "cpu"), undefined);
    await assertSameAsCpu("fused ops", fn);
  },
});

Deno.test({
  name: "native concat, stack, unstack, split and pad match cpu",
  ignore,
  async fn() {
    await assertSameAsCpu("concat", () => [
      tf.concat([t([2, 1, 5], 90), t([2, 6, 5], 91)], 1),
      tf.concat([t([3, 4], 92), t([3, 2], 93), t([3, 1], 94)], -1),
      tf.concat([t([2, 4], 95), t([1, 4], 96)], 0),
    ]);
    await assertSameAsCpu("stack and unstack", () => [
      tf.stack([t([4, 5], 97), t([4, 5], 98), t([4, 5], 99)], 0),
      tf.stack([t([4, 5], 100), t([4, 5], 101)], 2),
      ...tf.unstack(t([3, 2, 4, 5], 102), 0),
      ...tf.unstack(t([2, 3, 4], 103), 1),
    ]);
    await assertSameAsCpu(
      "split",
      () => [...tf.split(t([2, 7, 3], 104), [1, 6], 1), ...tf.split(t([6, 4], 105), 2, 0)],
    );
    await assertSameAsCpu(
      "pad",
      () => [
        tf.pad(t([2, 3, 4], 106), [[0, 0], [1, 2], [0, 3]]),
        tf.pad(t([5], 107), [[2, 1]], 1.5),
      ],
    );
    await assertSameAsCpu("grads through concat, unstack and slice", () => {
      const f = (a: tf.Tensor, b: tf.Tensor, p: tf.Tensor) => {
        const [q, k] = tf.unstack(tf.concat([a, b], 2), 0);
        return tf.sum(tf.mul(tf.add(q!, tf.slice(p, [0, 0], [3, 8])), k!));
      };
      return tf.grads(f)([t([2, 3, 3], 108), t([2, 3, 5], 109), t([5, 8], 110)]);
    });
  },
});

Deno.test({
  name: "the JS softmax and GELU fallbacks agree with oneDNN's",
  ignore: ignore || typeof loadDnnl() === "string",
  fn() {
    const dnnl = loadDnnl();
    if (typeof dnnl === "string") throw new Error(dnnl);
    const x = rand(151 * 40, 120).map((v) => v * 12), dy = rand(x.length, 121);
    const [a, b] = [new Float32Array(x.length), new Float32Array(x.length)];
    dnnl.softmax(x, 151, a);
    softmaxRows(x, 151, b);
    assertAtMost(relErr(b, a), TOL, "softmax relative error");
    dnnl.gelu(x, a);
    geluForward(x, b);
    assertAtMost(relErr(b, a), TOL, "GELU relative error");
    dnnl.geluGrad(dy, x, a);
    geluBackward(dy, x, b);
    assertAtMost(relErr(b, a), TOL, "GELU gradient relative error");
  },
});

Deno.test({
  name:
    "fused attention on native matches the composed attention on cpu, with and without a key mask",
  ignore,
  async fn() {
    const [B, N, H, hd] = [2, 7, 3, 4], D = H * hd;
    const mask = () => tf.tensor4d([0, 0, 0, 0, 0, -1e4, -1e4, 0, 0, 0, 0, 0, 0, 0], [B, 1, 1, N]);
    for (const masked of [true, false]) {
      await assertSameAsCpu(`attention masked=${masked}`, () => {
        const qkv = tf.mul(t([B, N, 3 * D], 130), 2) as tf.Tensor3D, up = t([B, N, D], 131);
        const m = masked ? mask() : null;
        const f = (x: tf.Tensor) =>
          tf.sum(tf.mul(attention(x as tf.Tensor3D, m, H, hd ** -0.5), up));
        return [attention(qkv, m, H, hd ** -0.5), ...tf.grads(f)([qkv])];
      });
    }
  },
});
