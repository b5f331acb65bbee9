/**
 * Running one side of a benchmark in its own process and printing ours
 * next to the PyTorch reference: children print one JSON line last; the
 * reference runs at torch's default thread count (the target) and, when
 * that is not every core, on every core too, for comparison.
 *
 * @module
 */

/** A child's result, or why it failed (exit status and its error line). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; why: string };

/** What every throughput child reports. */
export interface Rate {
  clips_per_s: number;
  threads?: number;
  peak_rss_mb?: number;
}

/** Command-line flags of a settings record: `{ batch: 8 }` -> `["--batch", "8"]`. */
export function flagsOf(settings: object): string[] {
  return Object.entries(settings).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

/** Runs `cmd args` and parses its last stdout line as JSON. */
export async function runJson<T>(cmd: string, args: string[]): Promise<Outcome<T>> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.success) {
    try {
      return { ok: true, value: JSON.parse(last) };
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

/** The reference's runs: printable lines and the rates ours are divided by. */
export interface References {
  lines: string[];
  /** clips/s at torch's default threads (NaN if it failed). */
  rate: number;
  /** clips/s on every core (NaN if not run or failed). */
  allRate: number;
  peakRssMb?: number;
  cores: number;
}

/** Runs the Python reference `script` with `args`, at torch's default threads and on every core. */
export async function referenceRuns(script: string, args: string[]): Promise<References> {
  const py = "/usr/bin/python3";
  const cores = navigator.hardwareConcurrency;
  const ref = await runJson<Rate>(py, [script, ...args]);
  const lines = [
    ref.ok
      ? `  pytorch ${"(ref)".padEnd(8)} ${
        ref.value.clips_per_s.toFixed(3)
      } clips/s (${ref.value.threads} threads, torch's default${rssNote(ref.value.peak_rss_mb)})`
      : `  pytorch reference failed: ${ref.why}`,
  ];
  const all = ref.ok && ref.value.threads !== cores
    ? await runJson<Rate>(py, [script, ...args, "--threads", String(cores)])
    : undefined;
  if (all) {
    lines.push(
      all.ok
        ? `  pytorch ${`(${cores} thr)`.padEnd(8)} ${
          all.value.clips_per_s.toFixed(3)
        } clips/s (${all.value.threads} threads, for comparison)`
        : `  pytorch on ${cores} threads failed: ${all.why}`,
    );
  }
  return {
    lines,
    rate: ref.ok ? ref.value.clips_per_s : NaN,
    allRate: all?.ok ? all.value.clips_per_s : NaN,
    peakRssMb: ref.ok ? ref.value.peak_rss_mb : undefined,
    cores,
  };
}

/**
 * The line of one of our backends: rate, `detail` (e.g. per-batch times),
 * peak RSS and the ratios to the reference.
 */
export function oursLine<T extends Rate>(
  backend: string,
  r: Outcome<T>,
  detail: (v: T) => string,
  refs: References,
): string {
  if (!r.ok) return `  atst ${backend.padEnd(11)} FAILED (${r.why})`;
  const rate = r.value.clips_per_s;
  const ratio = (Number.isFinite(refs.rate) ? ` = ${(rate / refs.rate).toFixed(3)}x pytorch` : "") +
    (Number.isFinite(refs.allRate)
      ? ` (${(rate / refs.allRate).toFixed(3)}x on ${refs.cores} threads)`
      : "");
  const rss = rssNote(r.value.peak_rss_mb, refs.peakRssMb);
  return `  atst ${backend.padEnd(11)} ${rate.toFixed(3)} clips/s (${
    detail(r.value)
  }${rss})${ratio}`;
}

/** ", peak RSS 1234 MB" plus " = 1.20x" when the reference's peak is known. */
function rssNote(ours: number | undefined, ref?: number): string {
  if (ours === undefined || !Number.isFinite(ours)) return "";
  const ratio = ref !== undefined && Number.isFinite(ref) ? ` = ${(ours / ref).toFixed(2)}x` : "";
  return `, peak RSS ${ours.toFixed(0)} MB${ratio}`;
}
