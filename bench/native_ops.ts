/**
 * Encoder throughput per backend next to PyTorch on this machine: the real
 * Encoder (lib/model/encoder.ts) forward, and forward + backward under
 * tf.variableGrads, against the same architecture in torch
 * (bench/native_ref.py). Each backend and the reference run in their own
 * process, so peak RSS (VmHWM) is per run. Ratios are PyTorch time / our
 * time (>= 1: we are at least as fast) and our peak RSS / PyTorch's.
 *
 * Both sides run --warmup untimed repetitions first: V8 needs a few passes
 * to optimise the kernels, and the first passes also pay for page faults
 * on fresh memory (a 4-step warm-up took a training step from 5.4 s to
 * 1.2 s here).
 *
 * @module
 */
import { type Tensor3D, tf } from "../lib/backend/tf.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { Encoder } from "../lib/model/encoder.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { formatKernelTimes, timeKernels } from "./_kernel_timer.ts";
import { timeRuns, type Timings } from "./_measure.ts";
import {
  flagsOf,
  type Outcome,
  parseSettings,
  report,
  runChild,
  runReference,
} from "./_compare.ts";

const USAGE = `
Usage: deno run -A bench/native_ops.ts [--backends native,wasm,cpu] [--size small]
         [--batch 8] [--frames 601] [--reps 3] [--warmup 3] [--rounds 1] [--train]
         [--profile] [--no-ref] [--torch-threads n]

  --rounds n   repeats the reference and every backend n times, alternating, and
               reports the best repetition of all (for a busy shared machine)
  --profile    prints the per-kernel time of the last repetition
`;

/** The flags both sides take. */
const SHARED = { size: "small", batch: 8, frames: 601, reps: 3, warmup: 3, train: false };
/** The flags of this driver and our child. */
const DRIVER = { rounds: 1, profile: false, "no-ref": false, "torch-threads": 0 };
type Shared = typeof SHARED;

/** What both children report, in seconds per timed repetition (forward; forward + backward). */
interface RunResult {
  forward_s: number[];
  forward_cpu_s: number[];
  train_s: number[];
  train_cpu_s: number[];
  peak_rss_mb: number;
  threads?: number;
  profile?: string;
}

async function child(
  backend: string,
  s: Shared,
  profile: boolean,
): Promise<Omit<RunResult, "peak_rss_mb">> {
  if (s.train) await enableGradients();
  await useBackend(backend as "native", { quiet: true });
  const times = profile ? timeKernels(tf.getBackend()) : undefined;
  const enc = new Encoder(encoderConfig(s.size as "small"), { seed: 1 });
  const x = tf.randomNormal([s.batch, 64, s.frames], 0, 1, "float32", 2) as Tensor3D;
  const lengths = new Array<number>(s.batch).fill(s.frames);
  const reps = { warmup: s.warmup, reps: s.reps };
  // Each repetition clears the kernel table, so the profile is the last one's.
  const forward = await timeRuns(async () => {
    times?.clear();
    const y = enc.forward(x, lengths);
    await y.data();
    y.dispose();
  }, reps);
  let prof = times ? formatKernelTimes(times) : undefined;
  let seed = 0;
  const train: Timings = s.train
    ? await timeRuns(async () => {
      times?.clear();
      const { value, grads } = tf.variableGrads(() =>
        tf.mean(tf.square(enc.forward(x, lengths, { training: true, seed: seed++ }))) as tf.Scalar
      );
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    }, reps)
    : { wall: [], cpu: [] };
  if (times && s.train) prof += "\n  -- forward + backward --\n" + formatKernelTimes(times);
  return {
    forward_s: forward.wall,
    forward_cpu_s: forward.cpu,
    train_s: train.wall,
    train_cpu_s: train.cpu,
    profile: prof,
  };
}

const { settings: o, backends, child: childOf } = parseSettings(
  Deno.args,
  { ...SHARED, ...DRIVER },
  { usage: USAGE, backends: "native,wasm" },
);
const shared = Object.fromEntries(
  Object.keys(SHARED).map((k) => [k, o[k as keyof Shared]]),
) as Shared;

if (childOf) {
  report(await child(childOf, shared, o.profile));
} else {
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(
    `# encoder ${o.size}, batch ${o.batch} x ${o.frames} frames; best of ${o.reps} reps x ${o.rounds} rounds; ` +
      `${navigator.hardwareConcurrency} cores, load ${load}`,
  );
  const passOn = flagsOf(shared);
  const threads = o["torch-threads"] > 0 ? ["--threads", String(o["torch-threads"])] : [];
  // Rounds alternate the reference and each backend, so a burst of load on a
  // shared machine hits both; the table takes the best repetition of all rounds.
  const merged = new Map<string, RunResult>();
  const keep = (key: string, r: Outcome<RunResult>) => {
    if (!r.ok) return void console.log(`${key}: FAILED ${r.why}`);
    const m = merged.get(key);
    if (!m) return void merged.set(key, r.value);
    for (const f of ["forward_s", "forward_cpu_s", "train_s", "train_cpu_s"] as const) {
      m[f].push(...r.value[f]);
    }
    m.peak_rss_mb = Math.max(m.peak_rss_mb, r.value.peak_rss_mb);
    m.profile = r.value.profile ?? m.profile;
  };
  let refName = "pytorch";
  for (let round = 0; round < o.rounds; round++) {
    if (!o["no-ref"]) {
      const r = await runReference<RunResult>(import.meta.url, "./native_ref.py", [
        ...passOn,
        ...threads,
      ]);
      if (r.ok) refName = `pytorch (${r.value.threads} thr)`;
      keep("pytorch", r);
    }
    for (const b of backends) {
      keep(
        b,
        await runChild<RunResult>(import.meta.url, b, [
          ...passOn,
          ...(o.profile ? ["--profile"] : []),
        ]),
      );
    }
  }
  printTable(merged, refName);
}

/** One row per run: best times, their ratios to the reference's, peak RSS and its ratio. */
function printTable(merged: Map<string, RunResult>, refName: string): void {
  const ref = merged.get("pytorch");
  const min = (a: number[]) => (a.length ? Math.min(...a) : NaN);
  const fmt = (s: number) => (Number.isFinite(s) ? `${s.toFixed(3)} s` : "-");
  // Ratios: PyTorch time / ours (>= 1 means we are at least as fast); our RSS / PyTorch's.
  const cols = ["forward", "ratio", "fwd cpu", "ratio", "fwd+bwd", "ratio", "f+b cpu", "ratio"];
  console.log(
    `${"backend".padEnd(18)} ${[...cols, "peak RSS", "ratio"].map((c) => c.padStart(9)).join(" ")}`,
  );
  for (const [name, r] of merged) {
    const cell = (ours: number[], theirs: number[] | undefined) => {
      const v = min(ours);
      return [fmt(v), theirs && theirs.length ? (min(theirs) / v).toFixed(2) : "-"];
    };
    const cells = [
      ...cell(r.forward_s, ref?.forward_s),
      ...cell(r.forward_cpu_s, ref?.forward_cpu_s),
      ...cell(r.train_s, ref?.train_s),
      ...cell(r.train_cpu_s, ref?.train_cpu_s),
      `${r.peak_rss_mb.toFixed(0)} MB`,
      ref ? (r.peak_rss_mb / ref.peak_rss_mb).toFixed(2) : "-",
    ];
    const label = name === "pytorch" ? refName : name;
    console.log(`${label.padEnd(18)} ${cells.map((c) => c.padStart(9)).join(" ")}`);
  }
  for (const [name, r] of merged) {
    if (r.profile) console.log(`\n## kernels on ${name}\n${r.profile}`);
  }
}
