/**
 * Row (b) of the demo: the encoder pre-training starts from, saved before
 * any step. `atst pretrain` builds its student encoder with the run's seed
 * and starts the teacher (the encoder it saves) as a copy of it, so the
 * same size and seed here give the same weights: (b) and (c) differ only by
 * the training.
 *
 * @module
 */
import { encoderConfig, type EncoderSize } from "../model/config.ts";
import { Encoder } from "../model/encoder.ts";
import { saveEncoder } from "../model/checkpoint.ts";

/**
 * The encoder `atst pretrain --size size --seed seed` starts from. The
 * seed must be at least 1: tfjs takes a random seed of 0 as "no seed".
 */
export function initialEncoder(size: EncoderSize, seed: number): Encoder {
  if (!(Number.isInteger(seed) && seed >= 1)) {
    throw new Error(`The initial encoder needs a whole seed of at least 1, got ${seed}`);
  }
  return new Encoder(encoderConfig(size), { name: "demo/random/encoder", seed });
}

/** Writes {@link initialEncoder} to `path`, with the crop length the pre-training uses. */
export async function saveInitialEncoder(
  path: string,
  opts: { size: EncoderSize; seed: number; cropSeconds: number },
): Promise<void> {
  const enc = initialEncoder(opts.size, opts.seed);
  try {
    await saveEncoder(path, enc, {
      trainCropSeconds: opts.cropSeconds,
      extra: { trainedSteps: "0" },
    });
  } finally {
    enc.dispose();
  }
}
