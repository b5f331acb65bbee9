/**
 * Measuring inside one benchmark process: untimed warm-up runs, then timed
 * ones (wall and process CPU), their median, this process's peak memory and
 * the inputs' noise. bench/_reference.py does the same on the Python side.
 *
 * @module
 */
import process from "node:process";

/** Wall and process-CPU seconds (all threads), one entry per timed run. */
export interface Timings {
  wall: number[];
  cpu: number[];
}

/** Process CPU seconds (user + system, all threads) used so far. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Runs `fn` `warmup` times untimed (V8, tfjs and the allocator need a few
 * passes to reach the speed a long job sees), then `reps` times timed.
 *
 * @example
 * ```ts
 * const { wall } = await timeRuns(() => work(), { warmup: 3, reps: 5 });
 * console.log(median(wall));
 * ```
 */
export async function timeRuns(
  fn: () => unknown,
  opts: { warmup: number; reps: number },
): Promise<Timings> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const out: Timings = { wall: [], cpu: [] };
  for (let i = 0; i < opts.reps; i++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    await fn();
    out.wall.push((performance.now() - t0) / 1000);
    out.cpu.push(cpuSeconds() - c0);
  }
  return out;
}

/** The middle value (the upper one of an even count, as the Python side takes it); NaN if empty. */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}

/** This process's peak resident set size in MB (VmHWM, the peak `ru_maxrss` reports; NaN without /proc). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Deterministic uniform noise in [-amplitude, amplitude) (an LCG from `seed`), for inputs. */
export function noise(amplitude: number, seed = 1): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return (state / 2 ** 32 - 0.5) * 2 * amplitude;
  };
}
