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
 * Usage: deno run -A bench/pretrain.ts [--backends native,wasm,cpu] [--size small]
 *        [--batch 8] [--crop 6] [--steps 3] [--warmup 2]
 *
 * Both sides run --warmup untimed steps first: the first two steps here
 * still pay for page faults and V8 optimisation (15 s and 8 s against a
 * steady 5 s for ours).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { peakRssMb } from "./_rss.ts";
import { flagsOf, oursLine, type Rate, referenceRuns, runJson } from "./_compare.ts";

/** Settings of one measurement. */
interface BenchSettings {
  size: string;
  batch: number;
  crop: number;
  steps: number;
  warmup: number;
}

const DEFAULTS: BenchSettings = { size: "small", batch: 8, crop: 6, steps: 3, warmup: 2 };

async function child(backend: string, s: BenchSettings): Promise<void> {
  const { useBackend } = await import("../lib/backend/backend.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { enableGradients } = await import("../lib/model/gradients.ts");
  const { Trainer } = await import("../lib/train/trainer.ts");
  const { memoryClips } = await import("../lib/train/views.ts");
  // deno-lint-ignore no-explicit-any
  await useBackend(backend as any, { quiet: true });
  await enableGradients();
  let seed = 1;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 0.2;
  };
  const clips = Array.from({ length: 16 }, () => Float32Array.from({ length: 160000 }, noise));
  const tr = new Trainer({
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
  const times: number[] = [];
  for (let i = 0; i < s.warmup + s.steps; i++) {
    const line = await tr.trainStep();
    if (i >= s.warmup) times.push(line.seconds);
  }
  tr.dispose();
  const med = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(
    JSON.stringify({ clips_per_s: s.batch / med, step_s: times, peak_rss_mb: peakRssMb() }),
  );
}

type Measured = Rate & { step_s: number[] };

/**
 * Runs the pre-training benchmark for each backend and the PyTorch
 * reference; returns printable lines (ours, reference, ratio).
 */
export async function benchPretrain(
  opts: { backends: string[] } & Partial<BenchSettings>,
): Promise<string[]> {
  const { backends, ...settings } = opts;
  const s: BenchSettings = { ...DEFAULTS, ...settings }; // exactly the flags both sides take
  const cores = navigator.hardwareConcurrency;
  const what =
    `${s.size} model, batch ${s.batch}, ${s.crop} s crops, median of ${s.steps} steps after ${s.warmup} untimed`;
  const lines = [`pretrain step (${what}), ${cores} cores:`];
  const refs = await referenceRuns(
    fileURLToPath(new URL("./pretrain_ref.py", import.meta.url)),
    flagsOf(s),
  );
  lines.push(...refs.lines);
  for (const b of backends) {
    const r = await runJson<Measured>(Deno.execPath(), [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--child",
      b,
      ...flagsOf(s),
    ]);
    const steps = (v: Measured) => `step ${v.step_s.map((x) => x.toFixed(1)).join(", ")} s`;
    lines.push(oursLine(b, r, steps, refs));
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string", default: "native,wasm" },
      child: { type: "string" },
      size: { type: "string", default: DEFAULTS.size },
      batch: { type: "string", default: String(DEFAULTS.batch) },
      crop: { type: "string", default: String(DEFAULTS.crop) },
      steps: { type: "string", default: String(DEFAULTS.steps) },
      warmup: { type: "string", default: String(DEFAULTS.warmup) },
    },
  });
  const s: BenchSettings = {
    size: values.size!,
    batch: Number(values.batch),
    crop: Number(values.crop),
    steps: Number(values.steps),
    warmup: Number(values.warmup),
  };
  if (values.child) {
    await child(values.child, s);
  } else {
    for (const line of await benchPretrain({ backends: values.backends!.split(","), ...s })) {
      console.log(line);
    }
  }
}
