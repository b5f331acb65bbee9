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
import { peakRssMb, rssNote } from "./_rss.ts";

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

async function runJson(
  cmd: string,
  args: string[],
): Promise<
  {
    ok: true;
    value: { clips_per_s: number; step_s: number[]; threads?: number; peak_rss_mb?: number };
  } | {
    ok: false;
    why: string;
  }
> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.success) {
    try {
      return { ok: true, value: JSON.parse(stdout) };
    } catch { /* fall through */ }
  }
  // The message, not the stack: the first line that names an error or abort.
  const lines = new TextDecoder().decode(out.stderr).split("\n").map((l) => l.trim()).filter(
    Boolean,
  );
  const err = lines.find((l) => /error|abort|out of memory|oom/i.test(l) && !/^at /.test(l)) ??
    lines.at(-1) ?? "";
  const sig = out.signal ? `signal ${out.signal}` : `exit ${out.code}`;
  return { ok: false, why: `${sig}: ${err.slice(0, 300)}` };
}

/**
 * Runs the pre-training benchmark for each backend and the PyTorch
 * reference; returns printable lines (ours, reference, ratio).
 */
export async function benchPretrain(
  opts: { backends: string[] } & Partial<BenchSettings>,
): Promise<string[]> {
  const s: BenchSettings = { ...DEFAULTS, ...opts };
  const cores = navigator.hardwareConcurrency;
  const what =
    `${s.size} model, batch ${s.batch}, ${s.crop} s crops, median of ${s.steps} steps after ${s.warmup} untimed`;
  const lines = [`pretrain step (${what}), ${cores} cores:`];
  // The target is against torch's default thread count (1 on this Debian build, even with
  // 2 cores); torch on every core is printed too, since ours uses every core.
  const refArgs = [
    fileURLToPath(new URL("./pretrain_ref.py", import.meta.url)),
    "--size",
    s.size,
    "--batch",
    String(s.batch),
    "--crop",
    String(s.crop),
    "--steps",
    String(s.steps),
    "--warmup",
    String(s.warmup),
  ];
  const ref = await runJson("/usr/bin/python3", refArgs);
  const refRate = ref.ok ? ref.value.clips_per_s : NaN;
  lines.push(
    ref.ok
      ? `  pytorch ${"(ref)".padEnd(8)} ${
        refRate.toFixed(3)
      } clips/s (${ref.value.threads} threads, torch's default${
        rssNote(ref.value.peak_rss_mb, NaN)
      })`
      : `  pytorch reference failed: ${ref.why}`,
  );
  const allCores = ref.ok && ref.value.threads !== cores
    ? await runJson("/usr/bin/python3", [...refArgs, "--threads", String(cores)])
    : undefined;
  if (allCores) {
    lines.push(
      allCores.ok
        ? `  pytorch ${`(${cores} thr)`.padEnd(8)} ${
          allCores.value.clips_per_s.toFixed(3)
        } clips/s (${allCores.value.threads} threads, for comparison)`
        : `  pytorch on ${cores} threads failed: ${allCores.why}`,
    );
  }
  const allRate = allCores?.ok ? allCores.value.clips_per_s : NaN;
  for (const b of opts.backends) {
    const r = await runJson(Deno.execPath(), [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--child",
      b,
      "--size",
      s.size,
      "--batch",
      String(s.batch),
      "--crop",
      String(s.crop),
      "--steps",
      String(s.steps),
      "--warmup",
      String(s.warmup),
    ]);
    if (!r.ok) {
      lines.push(`  atst ${b.padEnd(11)} FAILED (${r.why})`);
      continue;
    }
    const rate = r.value.clips_per_s;
    const ratio = (ref.ok ? ` = ${(rate / refRate).toFixed(3)}x pytorch` : "") +
      (Number.isFinite(allRate) ? ` (${(rate / allRate).toFixed(3)}x on ${cores} threads)` : "");
    lines.push(
      `  atst ${b.padEnd(11)} ${rate.toFixed(3)} clips/s (step ${
        r.value.step_s.map((x) => x.toFixed(1)).join(", ")
      } s${rssNote(r.value.peak_rss_mb, ref.ok ? ref.value.peak_rss_mb : undefined)})${ratio}`,
    );
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
