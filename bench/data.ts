/**
 * The pre-training data path (issue 14), in one run: the sharded cache build
 * of many short generated files with 1 worker and with every core (files/s,
 * cache files, peak RSS: each build in its own process); views rendered per
 * second per worker for 6 s and 10 s crops, and the workers a 1 s GPU step
 * of ATST-small at batch 256 needs; the seconds a training step waits for
 * its views with and without prefetch; embed throughput with and without
 * read-ahead. Featurize with the default jobs is in the featurize section.
 *
 * Run alone: deno run -A bench/data.ts [--files 5000] [--backend native]
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { synthWav } from "./featurize.ts";
import { median, peakRssMb } from "./_measure.ts";
import { parseFlagsOrExit } from "./_compare.ts";

const { values } = parseFlagsOrExit({
  args: Deno.args,
  options: {
    files: { type: "string" },
    backend: { type: "string" },
    backends: { type: "string" },
    child: { type: "string" },
    arg: { type: "string", multiple: true },
    help: { type: "boolean" },
  },
});
if (values.help) {
  console.log("Usage: deno run -A bench/data.ts [--files N] [--backend native|wasm|cpu]");
  Deno.exit(0);
}
const FILES = Number(values.files ?? 5000);
const BACKEND = String(values.backend ?? values.backends?.split(",")[0] ?? "native");
const cores = navigator.hardwareConcurrency;

/** Child processes: one measurement each, printed as a JSON line. */
async function child(kind: string, args: string[]): Promise<unknown> {
  if (kind === "build") {
    const { prepareData } = await import("../lib/train/data.ts");
    const [list, cache, jobs] = args as [string, string, string];
    const t0 = performance.now();
    const data = await prepareData([`@${list}`], cache, { jobs: Number(jobs), warn: () => {} });
    const seconds = (performance.now() - t0) / 1000;
    return {
      files_per_s: data.index.clips.length / seconds,
      cache_files: [...Deno.readDirSync(cache)].length,
      peak_rss_mb: peakRssMb(),
    };
  }
  const { useBackend } = await import("../lib/backend/backend.ts");
  await useBackend(BACKEND as "native", { quiet: true });
  if (kind === "wait") {
    const { prepareData } = await import("../lib/train/data.ts");
    const { enableGradients } = await import("../lib/model/gradients.ts");
    const { encoderConfig } = await import("../lib/model/config.ts");
    const { defaultTrainConfig } = await import("../lib/train/config.ts");
    const { PretrainSession } = await import("../lib/train/pretrain.ts");
    const [list, cache, prefetch] = args as [string, string, string];
    const data = await prepareData([`@${list}`], cache, { warn: () => {} });
    await enableGradients();
    const steps = 5;
    const cfg = {
      ...defaultTrainConfig({ steps, batch: 8 }),
      encoder: encoderConfig("tiny", { depth: 2 }),
      cropSeconds: 6,
    };
    const session = new PretrainSession(cfg, data.clips, { prefetch: Number(prefetch) });
    const wait: number[] = [], step: number[] = [];
    for (let i = 0; i < steps; i++) {
      const line = await session.trainStep();
      if (i === 0) continue; // the first step waits for worker start-up either way
      wait.push(line.data_wait);
      step.push(line.seconds);
    }
    session.dispose();
    return { wait_s: median(wait), step_s: median(step) };
  }
  const { Encoder } = await import("../lib/model/encoder.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { DEFAULT_MEL } = await import("../lib/features/mel.ts");
  const { embedFiles } = await import("../lib/embed/embed_files.ts");
  type Meta = Parameters<typeof embedFiles>[0]["meta"];
  const [list, readAhead] = args as [string, string];
  const files = (await Deno.readTextFile(list)).trim().split("\n").map((p) => ({
    path: p,
    rel: p,
  }));
  // ATST-small with random weights: the encoder's cost is what read-ahead overlaps with.
  const cfg = encoderConfig("small");
  const meta = { encoder: cfg, mel: DEFAULT_MEL, trainCropSeconds: 6, sha256: "" } as Meta;
  const model = { encoder: new Encoder(cfg, { seed: 1 }), meta };
  const t0 = performance.now();
  await embedFiles(model, files, { batch: 8, readAhead: Number(readAhead) }, () => {});
  return { files_per_s: files.length / ((performance.now() - t0) / 1000) };
}

async function run<T>(kind: string, args: string[]): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--child",
      kind,
      "--backend",
      BACKEND,
      ...args.flatMap((a) => ["--arg", a]),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`bench data: child ${kind} failed (exit ${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!) as T;
}

/** Writes `n` WAVs of `seconds` at 22.05 kHz (so they are resampled) and a list of them. */
async function corpus(dir: string, n: number, seconds: number): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const wav = synthWav(22050, 1, seconds, 1);
  const paths = Array.from({ length: n }, (_, i) => join(dir, `c${i}.wav`));
  for (const p of paths) await Deno.writeFile(p, wav);
  const list = join(dir, "list.txt");
  await Deno.writeTextFile(list, paths.join("\n") + "\n");
  return list;
}

/**
 * Views rendered per second on this thread for `seconds`-long crops: ATST-Clip's two crops per
 * clip, or ATST-Frame's one crop per clip with its plain and augmented view and a token mask.
 */
async function viewsPerSecond(
  list: string,
  cache: string,
  seconds: number,
  family: "clip" | "frame",
): Promise<number> {
  const { prepareData } = await import("../lib/train/data.ts");
  const { logMel } = await import("../lib/features/mel.ts");
  const { frameFeed, Sampler, ViewFeed } = await import("../lib/train/step_views.ts");
  const { cropSamples, MixupMemory } = await import("../lib/train/views.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const encoder = encoderConfig("small", { family });
  const data = await prepareData([`@${list}`], cache, { warn: () => {} });
  const ctx = {
    clips: data.clips,
    cropLength: cropSamples(seconds),
    nMels: 64,
    featurize: (c: Float32Array) => logMel(c).data,
  };
  const batch = 8, steps = 3;
  const feed = new ViewFeed(ctx, {
    batch,
    seed: 1,
    sampler: new Sampler(data.clips.count, 1),
    share: { first: 0, count: batch },
    start: 0,
    frame: frameFeed({ encoder, cropSeconds: seconds }),
  }, [new MixupMemory(), new MixupMemory()]);
  await feed.take(0); // warm-up
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) await feed.take(s);
  feed.close();
  return (2 * batch * steps) / ((performance.now() - t0) / 1000);
}

async function main(): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "atst_bench_data_" });
  try {
    const lines: string[] = [];
    const short = await corpus(join(dir, "short"), FILES, 0.5);
    type Build = { files_per_s: number; cache_files: number; peak_rss_mb: number };
    for (const jobs of [1, cores]) {
      const b = await run<Build>("build", [short, join(dir, `cache${jobs}`), String(jobs)]);
      lines.push(
        `cache build: ${FILES} files of 0.5 s (22.05 kHz WAV), --jobs ${jobs}: ${
          b.files_per_s.toFixed(0)
        } files/s, ` +
          `${b.cache_files} cache files, peak RSS ${b.peak_rss_mb.toFixed(0)} MB`,
      );
    }
    const long = await corpus(join(dir, "long"), 16, 12);
    const rates: number[] = [];
    const what = {
      clip: "ATST-Clip (two crops, log-mel, mixup, resize crop)",
      frame: "ATST-Frame (one crop, log-mel, plain + mixup/frequency-crop view, mask)",
    };
    for (const family of ["clip", "frame"] as const) {
      for (const seconds of [6, 10]) {
        const r = await viewsPerSecond(long, join(dir, "cache-long"), seconds, family);
        rates.push(r); // clip 6 s, clip 10 s, frame 6 s, frame 10 s
        lines.push(
          `views: ${what[family]}, ${seconds} s crops: ${r.toFixed(1)} views/s per worker`,
        );
      }
    }
    // ATST-small at batch 256: 512 views per step; a 1 s GPU step needs 512 views/s.
    // Each family at its recipe's crop: ATST-Clip 6 s, ATST-Frame 10 s.
    lines.push(
      `  workers to feed a 1 s GPU step of ATST-small at batch 256 (512 views): ` +
        `ATST-Clip (6 s) ${Math.ceil(512 / rates[0]!)}, ATST-Frame (10 s) ${
          Math.ceil(512 / rates[3]!)
        }`,
    );
    type Wait = { wait_s: number; step_s: number };
    for (const prefetch of [0, 2]) {
      const w = await run<Wait>("wait", [long, join(dir, "cache-long"), String(prefetch)]);
      lines.push(
        `step wait (tiny depth 2, batch 8, 6 s crops, ${BACKEND}), --prefetch ${prefetch}: ` +
          `${w.wait_s.toFixed(3)} s waited for data per ${w.step_s.toFixed(2)} s step ` +
          `(the step uses ${(16 / w.step_s).toFixed(0)} views/s)`,
      );
    }
    const emb = await corpus(join(dir, "embed"), 200, 2);
    for (const readAhead of [0, Math.max(1, cores - 1)]) {
      const e = await run<{ files_per_s: number }>("embed", [emb, String(readAhead)]);
      lines.push(
        `embed: 200 files of 2 s, ATST-small (${BACKEND}), read-ahead workers ${readAhead}: ${
          e.files_per_s.toFixed(1)
        } files/s`,
      );
    }
    return lines;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (values.child) console.log(JSON.stringify(await child(values.child, values.arg ?? [])));
  else for (const line of await main()) console.log(line);
}
