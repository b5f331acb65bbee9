/**
 * Shared bits of the training tests: the reader for fixtures/train/golden.json
 * (written by tools/gen_train_fixtures.py) and small assertions.
 *
 * tests/_helpers.ts would be the home of the assertions, but it imports
 * `fromFileUrl` from node:path, which Deno's node:path does not export;
 * until that is fixed the training tests use these.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { tf } from "../lib/backend/tf.ts";

/** Absolute path of the repository root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** Absolute path of a file under fixtures/. */
export function fixture(...parts: string[]): string {
  return fileURLToPath(new URL(`../fixtures/${parts.join("/")}`, import.meta.url));
}

/** An array as the generator stores it. */
export interface Arr {
  shape: number[];
  data: number[];
}

// deno-lint-ignore no-explicit-any
export const GOLDEN: any = JSON.parse(Deno.readTextFileSync(fixture("train", "golden.json")));

/** A float32 tensor from a stored array. */
export function tensorOf(a: Arr): tf.Tensor {
  return tf.tensor(a.data, a.shape, "float32");
}

/** Max |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs `fn` and asserts it leaves no new tfjs tensors behind. */
export async function assertNoTensorLeak(
  fn: () => Promise<void> | void,
  what = "fn",
): Promise<void> {
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${what} leaked ${after - before} tensors`);
}
