/**
 * The "native" backend (OpenBLAS through FFI + tuned JS kernels) must agree
 * with tfjs's cpu backend op by op, gradients included. The tests are
 * reported as ignored (with the reason on stderr) only when the system
 * libraries are missing.
 */
import { tf } from "../lib/backend/tf.ts";
import { registerNativeBackend } from "../lib/backend/native/register.ts";
import { gelu, geluBackward, geluForward, layerNorm } from "../lib/backend/native/fused_ops.ts";
import { softmaxRows } from "../lib/backend/native/softmax.ts";
import { attention } from "../lib/backend/native/attention.ts";
import { loadDnnl } from "../lib/backend/native/_dnnl.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { assertAtMost, assertNoTensorLeak, relErr } from "./_helpers.ts";
import assert from "node:assert/strict";

await enableGradients();
const native = await registerNativeBackend();
if (!native.ok) console.error(`native backend tests ignored: ${native.reason}`);
const ignore = !native.ok;
const TOL = 1e-5;

/** Deterministic values in [-1, 1) (xorshift), so cpu and native see the same inputs. */
function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

type Arrays = Float32Array[];

/** Runs `fn` on one backend and returns its outputs' values (no tensors left behind). */
async function runOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Arrays> {
  await tf.setBackend(backend);
  let arrays: Arrays = [];
  await assertNoTensorLeak(async () => {
    const outs = tf.tidy(fn);
    const list = Array.isArray(outs) ? outs : [outs];
    arrays = await Promise.all(list.map(async (t) => new Float32Array(await t.data())));
    tf.dispose(list);
  }, `${backend} run`);
  return arrays;
}

/** Asserts native and cpu give the same values (relative error <= TOL per output). */
async function assertSameAsCpu(what: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const want = await runOn("cpu", fn);
  const got = await runOn("native", fn);
  assert.equal(got.length, want.length, `${what}: number of outputs`);
  want.forEach((w, i) => {
    assert.equal(got[i]!.length, w.length, `${what}: output ${i} size`);
    assertAtMost(relErr(got[i]!, w), TOL, `${what}: output ${i} relative error`);
  });
}

const t = (shape: number[], seed: number) =>
  tf.tensor(rand(shape.reduce((p, d) => p * d, 1), seed), shape);

Deno.test({
  name: "native matMul matches cpu for every transpose combination",
  ignore,
  async fn() {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      await assertSameAsCpu(`matMul ta=${ta} tb=${tb}`, () => {
        const a = t(ta ? [53, 37] : [37, 53], 1);
        const b = t(tb ? [29, 53] : [53, 29], 2);
        return tf.matMul(a, b, ta, tb);
      });
    }
  },
});

Deno.test({
  name: "native batched matMul matches cpu with transposes and a shared right matrix",
  ignore,
  async fn() {
    await assertSameAsCpu("batched", () => tf.matMul(t([3, 17, 19], 3), t([3, 19, 23], 4)));
    await assertSameAsCpu(
      "batched tb",
      () => tf.matMul(t([2, 3, 17, 19], 5), t([2, 3, 23, 19], 6), false, true),
    );
    await assertSameAsCpu(
      "batched ta",
      () => tf.matMul(t([2, 3, 19, 17], 7), t([2, 3, 19, 23], 8), true, false),
    );
    await assertSameAsCpu("shared b", () => tf.matMul(t([2, 3, 17, 19], 9), t([19, 23], 10)));
    await assertSameAsCpu(
      "shared b, ta tb",
      () => tf.matMul(t([4, 19, 17], 11), t([1, 23, 19], 12), true, true),
    );
    await assertSameAsCpu("shared a", () => tf.matMul(t([17, 19], 13), t([5, 19, 23], 14)));
  },
});

Deno.test({
  name: "native matMul broadcasts batch dims on both sides like NumPy",
  ignore,
  async fn() {
    // tfjs's cpu kernel cannot do [4,1] x [3] batches, so the reference tiles first.
    await tf.setBackend("native");
    const a = t([4, 1, 5, 6], 15), b = t([3, 6, 7], 16);
    const got = tf.matMul(a, b, false, false);
    assert.deepEqual(got.shape, [4, 3, 5, 7]);
    const gv = await got.data();
    tf.dispose([a, b, got]);
    const want = await runOn(
      "cpu",
      () =>
        tf.matMul(
          tf.tile(t([4, 1, 5, 6], 15), [1, 3, 1, 1]),
          tf.tile(tf.expandDims(t([3, 6, 7], 16), 0), [4, 1, 1, 1]),
        ),
    );
    assertAtMost(relErr(gv, want[0]!), TOL, "broadcast relative error");
  },
});

Deno.test({
  name: "native fused matMul matches cpu with bias and every activation",
  ignore,
  async fn() {
    for (const activation of ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid"] as const) {
      await assertSameAsCpu(`fused ${activation}`, () =>
        tf.fused.matMul({
          a: tf.mul(t([2, 31, 40], 20), 3) as tf.Tensor3D,
          b: t([40, 24], 21),
          bias: t([24], 22),
          activation,
          leakyreluAlpha: 0.1,
        }));
    }
    await assertSameAsCpu(
      "fused, full bias, tb",
      () =>
        tf.fused.matMul({
          a: t([31, 40], 23),
          b: t([24, 40], 24),
          transposeB: true,
          bias: t([31, 24], 25),
          activation: "relu",
        }),
    );
    await assertSameAsCpu(
      "fused prelu",
      () =>
        tf.fused.matMul({
          a: t([31, 40], 26),
          b: t([40, 24], 27),
          activation: "prelu",
          preluActivationWeights: t([24], 28),
        }),
    );
  },
});

Deno.test({
  name: "native gradients through matMul and fused matMul match cpu",
  ignore,
  async fn() {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      await assertSameAsCpu(`grads matMul ta=${ta} tb=${tb}`, () => {
        const a = t(ta ? [2, 13, 11] : [2, 11, 13], 30), b = t(tb ? [2, 7, 13] : [2, 13, 7], 31);
        const w = t([2, 11, 7], 32);
        return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w)))(
          [
            a,
            b,
          ],
        );
      });
    }
    await assertSameAsCpu("grads fused relu", () => {
      const w = t([22, 9], 33);
      const f = (x: tf.Tensor, y: tf.Tensor, bias: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias, activation: "relu" }),
            w,
          ),
        );
      return tf.grads(f)([t([22, 15], 34), t([15, 9], 35), t([9], 36)]);
    });
  },
});

Deno.test({
  name: "native matMul handles int32 inputs and empty dimensions",
  ignore,
  async fn() {
    await assertSameAsCpu(
      "int32",
      () =>
        tf.matMul(
          tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"),
          tf.tensor2d([5, 6, 7, 8], [2, 2], "int32"),
        ),
    );
    await assertSameAsCpu("k = 0", () => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])));
    await assertSameAsCpu("m = 0", () => tf.matMul(tf.zeros([0, 3]), t([3, 4], 40)));
  },
});

Deno.test({
  name: "registerNativeBackend is idempotent and names the library it loaded",
  ignore,
  async fn() {
    const again = await registerNativeBackend();
    assert.equal(again, native);
    assert.ok(
      again.ok && again.libs.length > 0 && /blas/i.test(again.libs[0]!),
      JSON.stringify(again),
    );
  },
});

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

Deno.test("registerNativeBackend explains in one line why it cannot load", async () => {
  // A fresh process: the answer is cached per process. This runs with or without the libraries.
  const code = `const { registerNativeBackend } = await import(${
    JSON.stringify(import.meta.resolve("../lib/backend/native/register.ts"))
  });
    console.log(JSON.stringify(await registerNativeBackend()));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env: { ATST_BLAS: "/nonexistent/libopenblas.so.0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const st = JSON.parse(new TextDecoder().decode(out.stdout).trim());
  assert.equal(st.ok, false);
  assert.match(st.reason, /\/nonexistent\/libopenblas\.so\.0/);
  assert.match(st.reason, /libopenblas0/);
  assert.ok(!st.reason.includes("\n"), "one line");
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
