/**
 * Peak resident memory of this process (VmHWM), for the benchmarks'
 * memory ratios; the Python references report `ru_maxrss`, the same peak.
 *
 * @module
 */

/** This process's peak resident set size in MB (NaN where /proc is absent). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
