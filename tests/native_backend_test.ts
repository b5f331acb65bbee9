/**
 * The "native" backend's matmuls (OpenBLAS through FFI) agree with tfjs's
 * cpu backend, gradients included, and its registration reports what it
 * loaded or why it could not. Other kernels: tests/native_ops_test.ts.
 */
import { tf } from "../lib/backend/tf.ts";
import { registerNativeBackend } from "../lib/backend/native/register.ts";
import { assertAtMost, relErr } from "./_helpers.ts";
import { assertSameAsCpu, ignore, native, runOn, t, TOL } from "./_native.ts";
import { checkLargeProducts } from "./_large_products.ts";
import assert from "node:assert/strict";

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
  name: "native large products (oneDNN when loaded) match cpu for every transpose and batching",
  ignore,
  fn: checkLargeProducts,
});

Deno.test({
  name: "native large products match cpu without oneDNN too (OpenBLAS only)",
  ignore,
  async fn() {
    const script = new URL("./_large_products.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      env: { ATST_DNNL: "/nonexistent/libdnnl.so.2", NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /no oneDNN: .*nonexistent/);
    assert.match(text, /large products match cpu/);
  },
});
