/**
 * Running one side of a benchmark in its own process and printing ours
 * next to the PyTorch reference. Children print one JSON line last
 * ({@link report} writes it, {@link runJson} reads it); the reference runs
 * at torch's default thread count (the target) and, when that is not every
 * core, on every core too, for comparison. Settings are one flat record
 * that becomes the flags of both sides ({@link parseSettings},
 * {@link flagsOf}; bench/_reference.py parses them on the Python side).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { fileURLToPath } from "node:url";
import { peakRssMb } from "./_measure.ts";

/** A child's result, or why it failed (exit status and its error line). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; why: string };

/** What every throughput child reports. */
export interface Rate {
  clips_per_s: number;
  threads?: number;
  peak_rss_mb?: number;
}

/** A benchmark's settings: each key is a flag of both sides. */
export type Settings = Record<string, string | number | boolean>;

/** The Python that has Debian's torch. */
export const PYTHON = "/usr/bin/python3";

/** Command-line flags of a settings record: `{ batch: 8, train: true }` -> `["--batch", "8", "--train"]`. */
export function flagsOf(settings: Settings): string[] {
  return Object.entries(settings).flatMap(([k, v]) =>
    typeof v === "boolean" ? (v ? [`--${k}`] : []) : [`--${k}`, String(v)]
  );
}

/**
 * Parses `args` into `defaults`' shape (a flag per key, typed like its
 * default; booleans are switches), plus `--backends a,b` and `--child
 * BACKEND` (the process that measures one backend). Exits with status 2
 * and one line on a bad flag; `--help` prints `usage` and exits.
 *
 * @example
 * ```ts
 * const { settings, backends } = parseSettings(Deno.args, { batch: 8 }, { usage, backends: "native" });
 * ```
 */
export function parseSettings<S extends Settings>(
  args: string[],
  defaults: S,
  opts: { usage: string; backends: string },
): { settings: S; backends: string[]; child?: string } {
  const options: Record<string, { type: "string" | "boolean" }> = {
    backends: { type: "string" },
    child: { type: "string" },
    help: { type: "boolean" },
  };
  for (const [k, v] of Object.entries(defaults)) {
    options[k] = { type: typeof v === "boolean" ? "boolean" : "string" };
  }
  const values: Record<string, string | boolean | undefined> =
    parseFlagsOrExit({ args, options }).values;
  if (values.help) {
    console.log(opts.usage.trim());
    Deno.exit(0);
  }
  const settings: Settings = { ...defaults };
  for (const [k, v] of Object.entries(defaults)) {
    const given = values[k];
    if (given === undefined) continue;
    if (typeof v === "number") {
      const n = Number(given);
      if (given === "" || !Number.isFinite(n)) fail(`--${k} must be a number, not '${given}'`);
      settings[k] = n;
    } else settings[k] = given;
  }
  const backends = String(values.backends ?? opts.backends).split(",").filter(Boolean);
  return { settings: settings as S, backends, child: values.child as string | undefined };
}

/** `parseArgs(config)`, or one line naming the bad flag and exit status 2. */
export function parseFlagsOrExit<T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    fail(`${(err as Error).message.split(". ")[0]} (see --help)`);
  }
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  Deno.exit(2);
}

/** Prints a child's result line (the one {@link runJson} reads), with this process's peak RSS. */
export function report(value: object): void {
  console.log(JSON.stringify({ ...value, peak_rss_mb: peakRssMb() }));
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

/** Runs the benchmark module `self` (its `import.meta.url`) as the child measuring `backend`. */
export function runChild<T>(self: string, backend: string, args: string[]): Promise<Outcome<T>> {
  return runJson<T>(Deno.execPath(), [
    "run",
    "-A",
    fileURLToPath(self),
    "--child",
    backend,
    ...args,
  ]);
}

/** The Python reference `script` next to `self` (an `import.meta.url`), run with `args`. */
export function runReference<T>(self: string, script: string, args: string[]): Promise<Outcome<T>> {
  return runJson<T>(PYTHON, [fileURLToPath(new URL(script, self)), ...args]);
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

/** Runs the Python reference `script` (next to `self`) at torch's default threads and on every core. */
export async function referenceRuns(
  self: string,
  script: string,
  args: string[],
): Promise<References> {
  const cores = navigator.hardwareConcurrency;
  const ref = await runReference<Rate>(self, script, args);
  const lines = [
    ref.ok
      ? `  pytorch ${"(ref)".padEnd(8)} ${
        ref.value.clips_per_s.toFixed(3)
      } clips/s (${ref.value.threads} threads, torch's default${rssNote(ref.value.peak_rss_mb)})`
      : `  pytorch reference failed: ${ref.why}`,
  ];
  const all = ref.ok && ref.value.threads !== cores
    ? await runReference<Rate>(self, script, [...args, "--threads", String(cores)])
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

/** A throughput benchmark: ours per backend against one Python reference, same settings. */
export interface Throughput<S extends Settings, T extends Rate> {
  /** The benchmark module's `import.meta.url` (its children run it with --child). */
  self: string;
  /** The reference script, relative to `self`. */
  reference: string;
  /** The first line, before the ", N cores:" suffix. */
  title: (s: S) => string;
  /** The measurement of one backend in this process (the child's side). */
  measure: (backend: string, s: S) => Promise<T>;
  /** What a backend's line shows besides its rate (per-batch times). */
  detail: (v: T) => string;
}

/**
 * Runs the reference and then each backend in its own process (one that
 * fails is reported with its reason instead of ending the benchmark);
 * returns printable lines (ours, reference, ratios).
 */
export async function compareThroughput<S extends Settings, T extends Rate>(
  bench: Throughput<S, T>,
  backends: string[],
  s: S,
): Promise<string[]> {
  const lines = [`${bench.title(s)}, ${navigator.hardwareConcurrency} cores:`];
  const refs = await referenceRuns(bench.self, bench.reference, flagsOf(s));
  lines.push(...refs.lines);
  for (const b of backends) {
    lines.push(oursLine(b, await runChild<T>(bench.self, b, flagsOf(s)), bench.detail, refs));
  }
  return lines;
}

/**
 * The command line of a throughput benchmark: `--child B` measures backend
 * B and prints its result line; otherwise prints the comparison.
 */
export async function throughputMain<S extends Settings, T extends Rate>(
  bench: Throughput<S, T>,
  defaults: S,
  opts: { usage: string; backends: string },
): Promise<void> {
  const { settings, backends, child } = parseSettings(Deno.args, defaults, opts);
  if (child) report(await bench.measure(child, settings));
  else for (const line of await compareThroughput(bench, backends, settings)) console.log(line);
}
