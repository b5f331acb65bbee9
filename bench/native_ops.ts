/**
 * Encoder throughput per backend next to PyTorch on this machine: the real
 * Encoder (lib/model/encoder.ts) forward, and forward + backward under
 * tf.variableGrads, against the same architecture in torch
 * (bench/native_ref.py). Each backend and the reference run in their own
 * process, so peak RSS (VmHWM) is per run. Ratios are PyTorch time / our
 * time (>= 1: we are at least as fast) and our peak RSS / PyTorch's.
 *
 * Usage:
 *   deno run -A bench/native_ops.ts [--backends native,wasm,cpu] [--size small]
 *     [--batch 8] [--frames 601] [--reps 3] [--warmup 3] [--rounds 1] [--train]
 *     [--profile] [--no-ref] [--torch-threads n]
 *
 * Both sides run --warmup untimed repetitions first: V8 needs a few passes
 * to optimise the kernels, and the first passes also pay for page faults
 * on fresh memory (a 4-step warm-up took a training step from 5.4 s to
 * 1.2 s here).
 *
 * --rounds n repeats the reference and every backend n times, alternating,
 * and reports the best repetition of all (for a busy shared machine).
 *
 * --profile prints the per-kernel time of the last repetition.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type Tensor3D, tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { Encoder } from "../lib/model/encoder.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { formatKernelTimes, timeKernels } from "./_kernel_timer.ts";
import { peakRssMb } from "./_rss.ts";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    backends: { type: "string", default: "native,wasm" },
    size: { type: "string", default: "small" },
    batch: { type: "string", default: "8" },
    frames: { type: "string", default: "601" },
    reps: { type: "string", default: "3" },
    rounds: { type: "string", default: "1" },
    warmup: { type: "string", default: "3" },
    train: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "no-ref": { type: "boolean", default: false },
    "torch-threads": { type: "string", default: "0" },
    child: { type: "string" },
  },
});

/** What one run reports. */
interface RunResult {
  name: string;
  forwardMs: number[];
  trainMs: number[];
  /** Process CPU time (all threads) per repetition: less sensitive to a busy machine than wall time. */
  forwardCpuMs: number[];
  trainCpuMs: number[];
  peakRssMb: number;
  detail?: string;
  profile?: string;
}

async function child(backend: string): Promise<RunResult> {
  if (o.train) await enableGradients();
  await useBackend(backend as "native", { quiet: true });
  const times = o.profile ? timeKernels(tf.getBackend()) : undefined;
  const B = Number(o.batch), T = Number(o.frames), reps = Number(o.reps);
  const enc = new Encoder(encoderConfig(o.size as "small"), { seed: 1 });
  const x = tf.randomNormal(
    [B, 64, T],
    0,
    1,
    "float32",
    2,
  ) as Tensor3D;
  const lengths = new Array<number>(B).fill(T);
  const forwardMs: number[] = [], trainMs: number[] = [];
  const forwardCpuMs: number[] = [], trainCpuMs: number[] = [];
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const warm = Number(o.warmup);
  for (let r = 0; r < warm + reps; r++) {
    times?.clear();
    const t0 = performance.now(), c0 = cpuMs();
    const y = enc.forward(x, lengths);
    await y.data();
    y.dispose();
    if (r >= warm) {
      forwardMs.push(performance.now() - t0);
      forwardCpuMs.push(cpuMs() - c0);
    }
  }
  let profile = times ? formatKernelTimes(times) : undefined;
  if (o.train) {
    for (let r = 0; r < warm + reps; r++) {
      times?.clear();
      const t0 = performance.now(), c0 = cpuMs();
      const { value, grads } = tf.variableGrads(() =>
        tf.mean(tf.square(enc.forward(x, lengths, { training: true, seed: r }))) as tf.Scalar
      );
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      if (r >= warm) {
        trainMs.push(performance.now() - t0);
        trainCpuMs.push(cpuMs() - c0);
      }
    }
    if (times) profile += "\n  -- forward + backward --\n" + formatKernelTimes(times);
  }
  return {
    name: backend,
    forwardMs,
    trainMs,
    forwardCpuMs,
    trainCpuMs,
    peakRssMb: peakRssMb(),
    profile,
  };
}

async function spawn(cmd: string, args: string[]): Promise<RunResult | string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return `exit ${out.code}: ${err}`;
  }
  return JSON.parse(text) as RunResult;
}

const min = (a: number[]) => (a.length ? Math.min(...a) : NaN);
const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : "-");

if (o.child) {
  console.log(JSON.stringify(await child(o.child)));
} else {
  const shape = `${o.size}, batch ${o.batch} x ${o.frames} frames`;
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(
    `# encoder ${shape}; best of ${o.reps} reps x ${o.rounds} rounds; ${navigator.hardwareConcurrency} cores, load ${load}`,
  );
  const passOn = [
    ...["--size", o.size!, "--batch", o.batch!, "--frames", o.frames!],
    ...["--reps", o.reps!, "--warmup", o.warmup!],
  ];
  if (o.train) passOn.push("--train");
  const runRef = async (): Promise<RunResult | undefined> => {
    const py = fromFileUrl(new URL("./native_ref.py", import.meta.url));
    const r = await spawn("/usr/bin/python3", [py, ...passOn, "--threads", o["torch-threads"]!]);
    if (typeof r === "string") {
      console.log(`pytorch: FAILED ${r}`);
      return undefined;
    }
    const raw = r as unknown as {
      threads: number;
      forward_ms: number[];
      train_ms: number[];
      forward_cpu_ms: number[];
      train_cpu_ms: number[];
      peak_rss_mb: number;
    };
    return {
      name: `pytorch (${raw.threads} thr)`,
      forwardMs: raw.forward_ms,
      trainMs: raw.train_ms,
      forwardCpuMs: raw.forward_cpu_ms,
      trainCpuMs: raw.train_cpu_ms,
      peakRssMb: raw.peak_rss_mb,
    };
  };
  const runOurs = async (b: string): Promise<RunResult | undefined> => {
    const self = fromFileUrl(import.meta.url);
    const extra = o.profile ? ["--profile"] : [];
    const r = await spawn(Deno.execPath(), ["run", "-A", self, "--child", b, ...passOn, ...extra]);
    if (typeof r === "string") {
      console.log(`${b}: FAILED ${r}`);
      return undefined;
    }
    return r;
  };
  // Rounds alternate the reference and each backend, so a burst of load on a
  // shared machine hits both; the table takes the best repetition of all rounds.
  const merged = new Map<string, RunResult>();
  const keep = (r: RunResult | undefined, key: string) => {
    if (!r) return;
    const m = merged.get(key);
    if (!m) return void merged.set(key, r);
    m.forwardMs.push(...r.forwardMs);
    m.trainMs.push(...r.trainMs);
    m.forwardCpuMs.push(...r.forwardCpuMs);
    m.trainCpuMs.push(...r.trainCpuMs);
    m.peakRssMb = Math.max(m.peakRssMb, r.peakRssMb);
    m.profile = r.profile ?? m.profile;
  };
  for (let round = 0; round < Number(o.rounds); round++) {
    if (!o["no-ref"]) keep(await runRef(), "\0ref");
    for (const b of o.backends!.split(",")) keep(await runOurs(b), b);
  }
  const ref = merged.get("\0ref");
  const rows = [...merged.values()];
  // Ratios: PyTorch time / ours (>= 1 means we are at least as fast); our RSS / PyTorch's.
  const cols = [
    "forward",
    "ratio",
    "fwd cpu",
    "ratio",
    "fwd+bwd",
    "ratio",
    "f+b cpu",
    "ratio",
    "peak RSS",
    "ratio",
  ];
  console.log(`${"backend".padEnd(18)} ${cols.map((c) => c.padStart(9)).join(" ")}`);
  for (const r of rows) {
    const cell = (ours: number[], theirs: number[] | undefined) => {
      const v = min(ours);
      const ratio = theirs && theirs.length ? (min(theirs) / v).toFixed(2) : "-";
      return [fmt(v), ratio];
    };
    const rm = ref ? (r.peakRssMb / ref.peakRssMb).toFixed(2) : "-";
    const cells = [
      ...cell(r.forwardMs, ref?.forwardMs),
      ...cell(r.forwardCpuMs, ref?.forwardCpuMs),
      ...cell(r.trainMs, ref?.trainMs),
      ...cell(r.trainCpuMs, ref?.trainCpuMs),
      `${r.peakRssMb.toFixed(0)} MB`,
      rm,
    ];
    console.log(`${r.name.padEnd(18)} ${cells.map((c) => c.padStart(9)).join(" ")}`);
  }
  for (const r of rows) if (r.profile) console.log(`\n## kernels on ${r.name}\n${r.profile}`);
}
