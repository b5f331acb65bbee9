/**
 * The webgpu backend against the cpu backend (and the PyTorch golden
 * encoder). Runs on any WebGPU adapter, llvmpipe included (what CI has);
 * every test is visibly ignored when this machine has none.
 *
 * Models and inputs are tiny: llvmpipe compiles every shader on the CPU.
 */
import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { initWebGpu, probeAdapter } from "../lib/backend/webgpu.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { assertAtMost, fixture, readFixtureNpy, relErr } from "./_helpers.ts";
import { pretrainStepOn } from "./_webgpu_step.ts";
import { type ModelRefs, signal } from "./_model_inputs.ts";
import { readSafetensors } from "../lib/model/safetensors.ts";
import { buildEncoder } from "../lib/model/weights.ts";
import { parseConfig } from "../lib/model/config.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { frameRefs } from "./_frame_inputs.ts";

const adapter = await probeAdapter();
const noAdapter = !adapter.ok;
if (!adapter.ok) console.error(`webgpu tests ignored: ${adapter.reason}`);
await enableGradients();

/** Seeded normal data as a plain array, so each backend builds its own tensor. */
function normal(shape: number[], seed: number): { shape: number[]; data: Float32Array } {
  const data = tf.tidy(() =>
    tf.randomNormal(shape, 0, 1, "float32", seed).dataSync() as Float32Array
  );
  return { shape, data: data.slice() };
}

/** Runs `fn` on `backend` and returns every output as a float array. */
async function runOn(
  backend: "cpu" | "webgpu",
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  // cpuForward false: small tensors would otherwise run on cpu kernels inside webgpu.
  if (backend === "webgpu") await initWebGpu({ cpuForward: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend);
  const outs = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(outs);
  return data;
}

async function compare(
  what: string,
  fn: () => tf.Tensor | tf.Tensor[],
  limit: number,
): Promise<number> {
  const ref = await runOn("cpu", fn);
  const got = await runOn("webgpu", fn);
  assert.equal(got.length, ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = relErr(got[i]!, ref[i]!);
    assertAtMost(e, limit, `${what}, output ${i}, relative error webgpu vs cpu`);
    worst = Math.max(worst, e);
  }
  return worst;
}

const X = normal([2, 9, 24], 1); // [B, N, D]: odd sizes catch tiling edge cases
const W = normal([40, 24], 2); // [out, in], as nn.Linear stores it
const BIAS = normal([40], 3);
const SPEC = normal([2, 64, 13], 4); // [B, 64, T]
const t3 = () => tf.tensor3d(X.data, [2, 9, 24]);
const w2 = () => tf.tensor2d(W.data, [40, 24]);
const b1 = () => tf.tensor1d(BIAS.data);

/** The forward ops of the encoder, heads and optimizer, one case each. */
const OPS: Record<string, () => tf.Tensor | tf.Tensor[]> = {
  "linear layers: matMul plus bias, and fused with a transposed weight": () => {
    const x = tf.reshape(t3(), [18, 24]);
    return [
      tf.add(tf.matMul(x, tf.transpose(w2())), b1()),
      tf.fused.matMul({ a: x, b: w2(), transposeB: true, bias: b1() }),
    ];
  },
  "batched matMul with transposed keys": () => {
    const q = tf.reshape(t3(), [2, 3, 3, 24]);
    return tf.matMul(tf.mul(q, 0.2), q, false, true);
  },
  "patch cut: slice, 4-D transpose, reshape": () => {
    const x = tf.tensor3d(SPEC.data, [2, 64, 13]);
    const cut = tf.reshape(tf.slice(x, [0, 0, 0], [2, 64, 12]), [2, 64, 3, 4]);
    return tf.reshape(tf.transpose(cut, [0, 2, 1, 3]), [6, 256]);
  },
  "head split: 5-D transpose and unstack": () =>
    tf.unstack(tf.transpose(tf.reshape(t3(), [2, 9, 3, 2, 4]), [2, 0, 3, 1, 4])),
  "masked softmax": () => {
    const mask = tf.tensor4d([0, 0, 0, -1e4, 0, 0, -1e4, -1e4, -1e4], [1, 1, 1, 9]);
    return tf.softmax(
      tf.add(tf.reshape(t3(), [2, 3, 3, 24]).slice([0, 0, 0, 0], [2, 3, 3, 9]), mask),
    );
  },
  "layer norm through moments and rsqrt": () => {
    const { mean, variance } = tf.moments(t3(), -1, true);
    return tf.mul(tf.sub(t3(), mean), tf.rsqrt(tf.add(variance, 1e-6)));
  },
  "exact GELU through erf": () => {
    const x = tf.mul(t3(), 3);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  },
  "CLS tile, concat and positional add": () => {
    const cls = tf.slice(t3(), [0, 0, 0], [1, 1, 24]);
    const h = tf.concat([tf.tile(cls, [2, 1, 1]), t3()], 1);
    return tf.add(
      h,
      tf.slice(tf.reshape(tf.tile(b1(), [12]), [1, 20, 24]), [0, 0, 0], [1, 10, 24]),
    );
  },
  "drop path from a seeded uniform": () => {
    const u = tf.randomUniform([2, 1, 1], 0, 1, "float32", 7);
    return tf.mul(t3(), tf.div(tf.floor(tf.add(u, 0.9)), 0.9));
  },
  "batch norm statistics and ReLU": () => {
    const h = tf.reshape(t3(), [6, 72]);
    const mean = tf.mean(h, 0);
    const variance = tf.mean(tf.square(tf.sub(h, mean)), 0);
    return [mean, variance, tf.relu(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, 1e-5))))];
  },
  "L2 normalise, split and cosine loss": () => {
    const z = tf.reshape(t3(), [6, 72]);
    const n = tf.div(z, tf.maximum(tf.norm(z, "euclidean", 1, true), 1e-12));
    const [a, b] = tf.split(n, 2, 0) as [tf.Tensor, tf.Tensor];
    return tf.sub(2, tf.mul(tf.mean(tf.sum(tf.mul(a, b), 1)), 2));
  },
  "AdamW arithmetic: square, sqrt, div, addN": () => {
    const g = t3();
    const v = tf.mul(tf.square(g), 0.001);
    return tf.addN([g, tf.div(tf.mul(g, 0.1), tf.add(tf.sqrt(v), 1e-6)), tf.mul(g, -0.04)]);
  },
  "log-mixup-exp": () => tf.log(tf.add(tf.add(tf.mul(tf.exp(t3()), 0.7), 0.3), 1.1920929e-7)),
};

Deno.test({
  name: "every forward op of embed and pretrain agrees with cpu on webgpu",
  ignore: noAdapter,
  async fn(t) {
    for (const [name, fn] of Object.entries(OPS)) {
      await t.step(name, async () => {
        await compare(name, fn, 1e-5);
      });
    }
  },
});

Deno.test({
  name: "gradients through an attention block agree with cpu on webgpu",
  ignore: noAdapter,
  async fn() {
    const grads = () => {
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const h = tf.fused.matMul({
          a: tf.reshape(x, [18, 24]),
          b: w as tf.Tensor2D,
          transposeB: true,
          bias: b,
        }); // [18, 40]
        const { mean, variance } = tf.moments(h, -1, true);
        const n = tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, 1e-6)));
        const g = tf.mul(tf.mul(n, 0.5), tf.add(tf.erf(tf.mul(n, Math.SQRT1_2)), 1));
        const q = tf.reshape(g, [2, 9, 40]);
        const att = tf.softmax(tf.matMul(q, q, false, true)); // [2, 9, 9]
        const bn = tf.reshape(tf.matMul(att, q), [18, 40]);
        const m0 = tf.mean(bn, 0);
        const r = tf.relu(tf.sub(bn, m0));
        const unit = tf.div(r, tf.maximum(tf.norm(r, "euclidean", 1, true), 1e-12)); // [18, 40]
        // Weighted: the plain sum of squares of unit rows is constant (zero gradient).
        return tf.sum(tf.mul(unit, tf.linspace(-1, 1, 40)));
      };
      return tf.grads(f)([t3(), w2(), b1()]);
    };
    await compare("gradients", grads, 1e-4);
  },
});

Deno.test({
  name: "webgpu computes in float32, not float16",
  ignore: noAdapter,
  async fn() {
    // Values float16 cannot hold: a 2^-20 step, a value past its 65504 maximum.
    const values = [1 + 2 ** -20, 3e5, -7.123456e-3, 16777215];
    const [got] = await runOn(
      "webgpu",
      () => tf.mul(tf.tensor1d(values), tf.onesLike(tf.tensor1d(values))),
    );
    assert.deepEqual(Array.from(got!), Array.from(Float32Array.from(values)));
  },
});

Deno.test({
  name: "a synchronous read of a GPU tensor fails with a message pointing to await data()",
  ignore: noAdapter,
  async fn() {
    await initWebGpu({ cpuForward: false });
    const y = tf.add(tf.tensor1d([1, 2, 3]), 1); // computed on the GPU
    assert.throws(
      () => y.dataSync(),
      /cannot be read synchronously in Deno.*await tensor\.data\(\)/,
    );
    assert.deepEqual(Array.from(await y.data()), [2, 3, 4]);
    y.dispose();
  },
});

Deno.test({
  name: "the encoder matches the PyTorch reference on webgpu (padded batch, every block)",
  ignore: noAdapter,
  async fn() {
    // Model b of fixtures/model (D=32, 3 blocks, 2 heads), see tools/gen_model_fixtures.py.
    const refs: ModelRefs = JSON.parse(Deno.readTextFileSync(fixture("model", "refs.json")));
    const { lengths, seeds, width } = refs.b;
    const x = new Float32Array(lengths.length * 64 * width); // zero padding
    lengths.forEach((L, b) => {
      const s = signal(L, seeds[b]!);
      for (let f = 0; f < 64; f++) x.set(s.subarray(f * L, (f + 1) * L), (b * 64 + f) * width);
    });
    const ref = readFixtureNpy("model", "b_blocks.npy"); // [3 blocks, 3, 33, 32]
    const per = ref.data.length / 3;
    await initWebGpu({ cpuForward: false });
    const st = readSafetensors(Deno.readFileSync(fixture("model", "b.safetensors")));
    const encoder = buildEncoder(parseConfig(st.metadata.encoder!), st.tensors);
    const input = tf.tensor3d(x, [lengths.length, 64, width]);
    const outs = encoder.blockOutputs(input, lengths, 3);
    for (let i = 0; i < 3; i++) {
      const err = relErr(await outs[i]!.data(), ref.data.subarray(i * per, (i + 1) * per));
      // Spec §7: GPU backends within 1e-3 of the float64 reference.
      assertAtMost(err, 1e-3, `block ${i} relative error on webgpu`);
    }
    tf.dispose([input, ...outs]);
    encoder.dispose();
  },
});

Deno.test({
  name: "the ATST-Frame encoder matches FrameAST on webgpu (padded batch, every block, masked)",
  ignore: noAdapter,
  async fn() {
    // fixtures/frame (D=64, 2 blocks), see tools/gen_frame_fixtures.py; the same padded batch
    // as tests/frame_encoder_test.ts.
    const { lengths, seeds, width, mask } = frameRefs().batch;
    const x = new Float32Array(lengths.length * 64 * width); // zero padding
    lengths.forEach((L, b) => {
      const s = signal(L, seeds[b]!);
      for (let f = 0; f < 64; f++) x.set(s.subarray(f * L, (f + 1) * L), (b * 64 + f) * width);
    });
    const ref = readFixtureNpy("frame", "batch.npy"); // [2 blocks + masked, 3, 32, 64]
    const per = ref.data.length / 3;
    await initWebGpu({ cpuForward: false });
    const { encoder } = await loadEncoder(fixture("frame", "fa.ckpt"));
    assert.equal(tf.getBackend(), "webgpu");
    assert.equal(encoder.cfg.family, "frame");
    const input = tf.tensor3d(x, [lengths.length, 64, width]);
    const outs = encoder.blockOutputs(input, lengths, 2);
    const maskT = tf.tensor2d(mask, [lengths.length, mask[0]!.length]);
    const masked = encoder.forward(input, lengths, { mask: maskT });
    const got = [...outs, masked];
    for (let i = 0; i < 3; i++) {
      const err = relErr(await got[i]!.data(), ref.data.subarray(i * per, (i + 1) * per));
      const what = i < 2 ? `frame block ${i}` : "frame masked forward";
      console.log(`${what} relative error (webgpu): ${err.toExponential(2)}`);
      // Spec §7: GPU backends within 1e-3 of the float64 reference.
      assertAtMost(err, 1e-3, `${what} relative error on webgpu`);
    }
    tf.dispose([input, maskT, ...got]);
    encoder.dispose();
  },
});

Deno.test({
  name: "one pretrain step of the trainer on webgpu matches cpu (loss, gradients, weights)",
  ignore: noAdapter,
  async fn() {
    const cpu = await pretrainStepOn("cpu");
    const gpu = await pretrainStepOn("webgpu");
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    assertAtMost(rel(gpu.loss, cpu.loss), 1e-3, "loss relative error");
    assertAtMost(rel(gpu.stdStudent, cpu.stdStudent), 1e-3, "student std relative error");
    assertAtMost(rel(gpu.stdTeacher, cpu.stdTeacher), 1e-3, "teacher std relative error");
    assertAtMost(relErr(gpu.moments, cpu.moments), 1e-3, "gradient (first moment) relative error");
    assertAtMost(relErr(gpu.state, cpu.state), 1e-3, "state after the step, relative error");
    // Adam's first step moves each weight by about lr * g / (|g| + eps): where
    // |g| is near eps, float32 rounding of g changes the step a lot, so the
    // update as a whole gets a looser bound than the weights.
    assertAtMost(relErr(gpu.delta, cpu.delta), 1e-2, "weight update relative error");
  },
});
