/**
 * Embedding throughput: clip embeddings (spec §4.1 protocol, last 12
 * blocks, CLS + mean) of 6 s clips with the small model, batch 8, per tfjs
 * backend, next to the same protocol in PyTorch (bench/embed_ref.py, torch's
 * default thread count) on this machine, with ratios. Inputs are log-mel
 * features, so this measures the encoder and pooling, not decoding.
 *
 * `--family frame` measures ATST-Frame instead (random weights of the size):
 * the authors' scene embedding (REFERENCE.md §8.5, last 12 blocks
 * through `norm_frame`, token mean per 1001-frame chunk, mean over chunks),
 * what `atst embed` gives for a frame model without `--frames`. Ours runs
 * lib/embed/frame_pooling.ts `sceneEmbeddings` on the batch's clips, as
 * `atst embed` does (the chunks of a group of `--batch` files share encoder
 * calls: 8 clips of 10 s are one call); the reference is
 * tools/atst_torch.py `scene_embedding` (the authors' get_scene_embedding)
 * on the whole batch.
 *
 * Both sides run --warmup untimed batches first: V8 and tfjs need a few
 * passes to reach steady speed, which is what a long embedding job sees.
 *
 * @module
 */
import { median, noise, timeRuns } from "./_measure.ts";
import { type Rate, throughputMain } from "./_compare.ts";

const USAGE = `
Usage: deno run -A bench/embed.ts [--backends native,wasm,cpu] [--size small]
       [--batch 8] [--seconds 6] [--batches 5] [--warmup 3] [--family clip|frame]

--family frame: ATST-Frame scene embedding (last 12 blocks); deno task bench
runs it with --seconds 10 (one 1001-frame chunk per clip).
`;

/** Settings of one measurement (the flags of both sides). */
const DEFAULTS = {
  size: "small",
  batch: 8,
  seconds: 6,
  batches: 5,
  warmup: 3,
  family: "clip",
};
type BenchSettings = typeof DEFAULTS;

type Measured = Rate & { batch_s: number[]; backend: string; tensors: number };

/** One backend's measurement, in this process. */
async function measure(backend: string, s: BenchSettings): Promise<Measured> {
  const { tf } = await import("../lib/backend/tf.ts");
  const { useBackend } = await import("../lib/backend/backend.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { Encoder } = await import("../lib/model/encoder.ts");
  const { embedClips } = await import("../lib/embed/pooling.ts");
  const { memorySource, sceneEmbeddings } = await import("../lib/embed/frame_pooling.ts");
  if (s.family !== "clip" && s.family !== "frame") {
    throw new Error(`--family must be clip or frame, not '${s.family}'`);
  }
  const used = await useBackend(backend as "cpu", { quiet: true });
  const cfg = encoderConfig(s.size as "small", { family: s.family });
  const encoder = new Encoder(cfg, { seed: 0, trainable: false });
  const frames = Math.trunc(s.seconds * 100) + 1;
  const next = noise(1);
  const clips = Array.from({ length: s.batch }, () => ({
    data: Float32Array.from({ length: 64 * frames }, next),
    nMels: 64,
    frames,
  }));
  const opts = { chunkFrames: 601, blocks: 12, pool: "both" as const, batch: s.batch };
  const sources = clips.map(memorySource);
  const frameOpts = { blocks: 12, batch: s.batch };
  const run = s.family === "frame"
    ? () => sceneEmbeddings(encoder, sources, frameOpts)
    : () => embedClips(encoder, clips, opts);
  const { wall } = await timeRuns(run, { warmup: s.warmup, reps: s.batches });
  encoder.dispose();
  return {
    clips_per_s: s.batch / median(wall),
    batch_s: wall,
    backend: used,
    tensors: tf.memory().numTensors,
  };
}

if (import.meta.main) {
  await throughputMain(
    {
      self: import.meta.url,
      reference: "./embed_ref.py",
      title: (s) =>
        s.family === "frame"
          ? `embed ATST-Frame scene embeddings (${s.size} model, ${s.seconds} s clips, ` +
            `batch ${s.batch}, last 12 blocks, median of ${s.batches} after ${s.warmup} untimed)`
          : `embed clips (${s.size} model, ${s.seconds} s clips, batch ${s.batch}, ` +
            `last 12 blocks, median of ${s.batches} after ${s.warmup} untimed)`,
      measure,
      detail: (v) => `batches ${v.batch_s.map((x) => x.toFixed(2)).join(", ")} s`,
    },
    DEFAULTS,
    { usage: USAGE, backends: "native,wasm,cpu" },
  );
}
