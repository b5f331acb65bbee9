/**
 * Matrix products large enough to leave OpenBLAS's small-product path
 * (oneDNN's sgemm when it is loaded), checked against tfjs's cpu backend.
 * Run as a script it registers the native backend itself and prints the
 * libraries line, so a test can run it with a different environment
 * (e.g. without oneDNN).
 *
 * @module
 */
import { tf } from "../lib/backend/tf.ts";
import { assertSameAsCpu, native, t } from "./_native.ts";

/** Single, batched, broadcast and fused products of 2^23+ multiply-adds each, all transposes. */
export async function checkLargeProducts(): Promise<void> {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    await assertSameAsCpu(`large ta=${ta} tb=${tb}`, () => {
      const a = t(ta ? [256, 300] : [300, 256], 41), b = t(tb ? [120, 256] : [256, 120], 42);
      return tf.matMul(a, b, ta, tb);
    });
    await assertSameAsCpu(`large batched ta=${ta} tb=${tb}`, () => {
      const a = t(ta ? [2, 256, 300] : [2, 300, 256], 43);
      const b = t(tb ? [2, 120, 256] : [2, 256, 120], 44);
      return tf.matMul(a, b, ta, tb);
    });
  }
  await assertSameAsCpu("large fused with bias", () =>
    tf.fused.matMul({
      a: t([3, 200, 256], 45) as tf.Tensor3D,
      b: t([256, 96], 46),
      bias: t([96], 47),
      activation: "relu",
    }));
  await assertSameAsCpu("large grads", () => {
    const w = t([300, 120], 48);
    return tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), w))
    )([t([300, 256], 49), t([256, 120], 50)]);
  });
}

if (import.meta.main) {
  if (!native.ok) throw new Error(`native backend unavailable: ${native.reason}`);
  console.log(native.libs.join("; "));
  await checkLargeProducts();
  console.log("large products match cpu");
}
