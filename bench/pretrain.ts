/**
 * Pre-training throughput: one full ATST step (both views of every clip,
 * teacher forward, student forward + backward, AdamW, EMA) on the small
 * model, batch 8, 6 s crops, per tfjs backend, next to the same step in
 * PyTorch (bench/pretrain_ref.py) on this machine, with ratios.
 *
 * Each backend runs in its own subprocess, so a backend that aborts (the
 * stock wasm backend runs out of memory on this step) is reported with
 * its exit status and last message instead of ending the benchmark.
 *
 * Both sides run --warmup untimed steps first: the first two steps here
 * still pay for page faults and V8 optimisation (15 s and 8 s against a
 * steady 5 s for ours).
 *
 * @module
 */
import { median, noise, timeRuns } from "./_measure.ts";
import { type Rate, throughputMain } from "./_compare.ts";

const USAGE = `
Usage: deno run -A bench/pretrain.ts [--backends native,wasm,cpu] [--size small]
       [--batch 8] [--crop 6] [--steps 3] [--warmup 2]
`;

/** Settings of one measurement (the flags of both sides). */
const DEFAULTS = { size: "small", batch: 8, crop: 6, steps: 3, warmup: 2 };
type BenchSettings = typeof DEFAULTS;

type Measured = Rate & { step_s: number[] };

/** One backend's measurement, in this process. */
async function measure(backend: string, s: BenchSettings): Promise<Measured> {
  const { useBackend } = await import("../lib/backend/backend.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { enableGradients } = await import("../lib/model/gradients.ts");
  const { PretrainSession } = await import("../lib/train/pretrain.ts");
  const { memoryClips } = await import("../lib/train/views.ts");
  await useBackend(backend as "cpu", { quiet: true });
  await enableGradients();
  const next = noise(0.1);
  const clips = Array.from({ length: 16 }, () => Float32Array.from({ length: 160000 }, next));
  const session = new PretrainSession({
    encoder: encoderConfig(s.size as "small"),
    heads: { hidden: 4096, out: 256 },
    data: [],
    steps: s.warmup + s.steps,
    batch: s.batch,
    lr: 1e-4,
    minLr: 1e-6,
    warmup: 0,
    wd: [0.04, 0.4],
    ema: [0.99, 1],
    cropSeconds: s.crop,
    mixupMemory: 2000,
    seed: 0,
    saveEvery: 1e9,
    keep: 1,
  }, memoryClips(clips));
  const { wall } = await timeRuns(() => session.trainStep(), { warmup: s.warmup, reps: s.steps });
  session.dispose();
  return { clips_per_s: s.batch / median(wall), step_s: wall };
}

if (import.meta.main) {
  await throughputMain(
    {
      self: import.meta.url,
      reference: "./pretrain_ref.py",
      title: (s) =>
        `pretrain step (${s.size} model, batch ${s.batch}, ${s.crop} s crops, ` +
        `median of ${s.steps} steps after ${s.warmup} untimed)`,
      measure,
      detail: (v) => `step ${v.step_s.map((x) => x.toFixed(1)).join(", ")} s`,
    },
    DEFAULTS,
    { usage: USAGE, backends: "native,wasm" },
  );
}
