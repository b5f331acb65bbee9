/**
 * Shared set-up of the native backend tests: registers gradients and the
 * "native" backend once, and compares any op sequence against tfjs's cpu
 * backend. Tests are ignored (reason on stderr) only when the system
 * libraries are missing.
 *
 * @module
 */
import { tf } from "../lib/backend/tf.ts";
import { registerNativeBackend } from "../lib/backend/native/register.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { assertAtMost, assertNoTensorLeak, relErr } from "./_helpers.ts";
import assert from "node:assert/strict";

await enableGradients();
export const native = await registerNativeBackend();
if (!native.ok) console.error(`native backend tests ignored: ${native.reason}`);
/** Whether to ignore the native tests (libraries missing). */
export const ignore = !native.ok;
export const TOL = 1e-5;

/** Deterministic values in [-1, 1) (xorshift), so cpu and native see the same inputs. */
export function rand(n: number, seed: number): Float32Array {
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
export async function runOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Arrays> {
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
export async function assertSameAsCpu(
  what: string,
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<void> {
  const want = await runOn("cpu", fn);
  const got = await runOn("native", fn);
  assert.equal(got.length, want.length, `${what}: number of outputs`);
  want.forEach((w, i) => {
    assert.equal(got[i]!.length, w.length, `${what}: output ${i} size`);
    assertAtMost(relErr(got[i]!, w), TOL, `${what}: output ${i} relative error`);
  });
}

/** A deterministic tensor of `shape`. */
export const t = (shape: number[], seed: number) =>
  tf.tensor(rand(shape.reduce((p, d) => p * d, 1), seed), shape);
