/**
 * Embedding throughput: clip embeddings (spec §4.1 protocol, last 12
 * blocks, CLS + mean) of 6 s clips with the small model, batch 8, per tfjs
 * backend, next to the same protocol in PyTorch (bench/embed_ref.py, torch's
 * default thread count) on this machine, with ratios. Inputs are log-mel
 * features, so this measures the encoder and pooling, not decoding.
 *
 * Each backend runs in its own subprocess: one that fails is reported with
 * its reason instead of ending the benchmark.
 *
 * Usage: deno run -A bench/embed.ts [--backends cpu,native,wasm] [--size small]
 *        [--batch 8] [--seconds 6] [--batches 5] [--warmup 3]
 *
 * Both sides run --warmup untimed batches first: V8 and tfjs need a few
 * passes to reach steady speed, which is what a long embedding job sees.
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
  seconds: number;
  batches: number;
  warmup: number;
}

const DEFAULTS: BenchSettings = { size: "small", batch: 8, seconds: 6, batches: 5, warmup: 3 };

/** One backend's measurement, in this process; prints one JSON line. */
async function child(backend: string, s: BenchSettings): Promise<void> {
  const { tf } = await import("../lib/backend/tf.ts");
  const { useBackend } = await import("../lib/backend/backend.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { Encoder } = await import("../lib/model/encoder.ts");
  const { embedClips } = await import("../lib/embed/pooling.ts");
  const used = await useBackend(backend as "cpu", { quiet: true });
  const encoder = new Encoder(encoderConfig(s.size as "small"), { seed: 0, trainable: false });
  const frames = Math.trunc(s.seconds * 100) + 1;
  let seed = 1;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  };
  const clips = Array.from({ length: s.batch }, () => ({
    data: Float32Array.from({ length: 64 * frames }, noise),
    nMels: 64,
    frames,
  }));
  const opts = { chunkFrames: 601, blocks: 12, pool: "both" as const, batch: s.batch };
  for (let i = 0; i < s.warmup; i++) await embedClips(encoder, clips, opts); // untimed
  const times: number[] = [];
  for (let i = 0; i < s.batches; i++) {
    const t0 = performance.now();
    await embedClips(encoder, clips, opts);
    times.push((performance.now() - t0) / 1000);
  }
  encoder.dispose();
  const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(
    JSON.stringify({
      clips_per_s: s.batch / med,
      batch_s: times,
      backend: used,
      tensors: tf.memory().numTensors,
      peak_rss_mb: peakRssMb(),
    }),
  );
}

type Measured = Rate & { batch_s: number[]; backend?: string };

/**
 * Runs the embedding benchmark for each backend and the PyTorch reference;
 * returns printable lines (ours, reference, ratio).
 *
 * @example
 * ```ts
 * for (const line of await benchEmbed({ backends: ["native", "wasm"] })) console.log(line);
 * ```
 */
export async function benchEmbed(
  opts: { backends: string[] } & Partial<BenchSettings>,
): Promise<string[]> {
  const { backends, ...settings } = opts;
  const s: BenchSettings = { ...DEFAULTS, ...settings }; // exactly the flags both sides take
  const what =
    `${s.size} model, ${s.seconds} s clips, batch ${s.batch}, last 12 blocks, median of ${s.batches} after ${s.warmup} untimed`;
  const lines = [`embed clips (${what}), ${navigator.hardwareConcurrency} cores:`];
  const refs = await referenceRuns(
    fileURLToPath(new URL("./embed_ref.py", import.meta.url)),
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
    const batches = (v: Measured) => `batches ${v.batch_s.map((x) => x.toFixed(2)).join(", ")} s`;
    lines.push(oursLine(b, r, batches, refs));
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string", default: "native,wasm,cpu" },
      child: { type: "string" },
      size: { type: "string", default: DEFAULTS.size },
      batch: { type: "string", default: String(DEFAULTS.batch) },
      seconds: { type: "string", default: String(DEFAULTS.seconds) },
      batches: { type: "string", default: String(DEFAULTS.batches) },
      warmup: { type: "string", default: String(DEFAULTS.warmup) },
    },
  });
  const s: BenchSettings = {
    size: values.size!,
    batch: Number(values.batch),
    seconds: Number(values.seconds),
    batches: Number(values.batches),
    warmup: Number(values.warmup),
  };
  if (values.child) await child(values.child, s);
  else {for (const line of await benchEmbed({ backends: values.backends!.split(","), ...s })) {
      console.log(line);
    }}
}
