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

/** "  peak 1234 MB (1.20x)" for a line of ours next to the reference's peak. */
export function rssNote(ours: number | undefined, ref: number | undefined): string {
  if (ours === undefined || !Number.isFinite(ours)) return "";
  const ratio = ref !== undefined && Number.isFinite(ref) ? ` = ${(ours / ref).toFixed(2)}x` : "";
  return `, peak RSS ${ours.toFixed(0)} MB${ratio}`;
}
