/**
 * The native backend's buffer pool reuses a freed output only when nothing
 * can still see it: not while a view of it lives, never once read out.
 */
import { tf } from "../lib/backend/tf.ts";
import { PooledCpuBackend } from "../lib/backend/native/buffer_pool.ts";
import { ignore, rand } from "./_native.ts";
import assert from "node:assert/strict";

const N = 1 << 15; // large enough to be pooled

Deno.test("a freed buffer is handed to the next request of the same size", () => {
  const b = new PooledCpuBackend();
  const x = b.allocF32(N);
  const id = b.write(x, [N], "float32");
  assert.equal(b.pooledBytes, 0);
  b.disposeData(id);
  assert.equal(b.pooledBytes, 4 * N);
  assert.equal(b.allocF32(N - 1).buffer === x.buffer, false, "another size gets a fresh buffer");
  assert.equal(b.allocF32(N).buffer, x.buffer);
  assert.equal(b.pooledBytes, 0);
});

Deno.test("a buffer read out of the backend is never reused", () => {
  const b = new PooledCpuBackend();
  const x = b.allocF32(N);
  const id = b.write(x, [N], "float32");
  b.readSync(id);
  b.disposeData(id);
  assert.equal(b.pooledBytes, 0);
  assert.notEqual(b.allocF32(N).buffer, x.buffer);
});

Deno.test("a buffer is reused only after every tensor viewing it is freed", () => {
  const b = new PooledCpuBackend();
  const x = b.allocF32(N);
  const whole = b.write(x, [N], "float32");
  const view = b.write(x.subarray(N / 2), [N / 2], "float32"); // as a zero-copy slice would
  b.disposeData(whole);
  assert.notEqual(b.allocF32(N).buffer, x.buffer, "the view still lives");
  b.disposeData(view);
  assert.equal(b.allocF32(N).buffer, x.buffer);
});

Deno.test("a buffer shared by reference counting is freed once, at the last release", () => {
  const b = new PooledCpuBackend();
  const x = b.allocF32(N);
  const id = b.write(x, [N], "float32");
  b.incRef(id); // what a reshape does
  assert.equal(b.disposeData(id), false);
  assert.equal(b.pooledBytes, 0);
  assert.equal(b.disposeData(id), true);
  assert.equal(b.pooledBytes, 4 * N);
});

Deno.test({
  name: "native results read with data() stay intact while later kernels reuse freed buffers",
  ignore,
  async fn() {
    await tf.setBackend("native");
    const before = tf.memory().numTensors;
    const a = tf.tensor2d(rand(256 * 256, 1), [256, 256]);
    const kept: Float32Array[] = [];
    const copies: Float32Array[] = [];
    for (let i = 0; i < 4; i++) {
      const y = tf.tidy(() => tf.add(tf.matMul(a, a), i)); // freed intermediates feed the pool
      const v = await y.data() as Float32Array;
      kept.push(v);
      copies.push(v.slice());
      y.dispose();
    }
    a.dispose();
    kept.forEach((v, i) => {
      const bad = v.findIndex((x, j) => x !== copies[i]![j]);
      assert.equal(bad, -1, `result ${i} was overwritten (first at ${bad})`);
    });
    assert.notEqual(copies[0]![0], copies[1]![0]);
    assert.equal(tf.memory().numTensors, before);
  },
});
