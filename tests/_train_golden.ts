/**
 * Shared bits of the training tests: the reader for fixtures/train/golden.json
 * (written by tools/gen_train_fixtures.py) and PyTorch-layout conversion.
 *
 * @module
 */
import { fixture } from "./_helpers.ts";
import { tf } from "../lib/backend/tf.ts";
import { isLinearWeight } from "../lib/model/encoder.ts";
import { torchLayout } from "../lib/model/heads.ts";

export { assertNoTensorLeak, fixture, maxAbsDiff, relErr, ROOT } from "./_helpers.ts";

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

/**
 * A stored PyTorch tensor in our layout: Linear weights of the encoder and
 * the heads are held [in, out] here, [out, in] in PyTorch. `key` is
 * `encoder/<name>`, `projector/<name>`, `predictor/<name>` or a bare head name.
 */
export function tensorOurs(key: string, a: Arr): tf.Tensor {
  const t = tensorOf(a);
  if (!isTorchTransposed(key)) return t;
  const out = tf.transpose(t);
  t.dispose();
  return out;
}

/** Whether `key` (see {@link tensorOurs}) is held transposed relative to PyTorch. */
export function isTorchTransposed(key: string): boolean {
  const slash = key.indexOf("/");
  const name = key.slice(slash + 1);
  return key.startsWith("encoder/") ? isLinearWeight(name) : torchLayout(name);
}
