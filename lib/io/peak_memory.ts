/**
 * A measuring hook for tests and benchmarks: with `ATST_PEAK_RSS_FILE` set,
 * the process writes its peak resident memory to that file as it exits.
 * The peak (VmHWM of /proc/self/status, Linux) is read by the process
 * itself, since no outside reader can see it just before the exit.
 *
 * @module
 */

/** The environment variable naming the file {@link reportPeakMemory} writes. */
export const PEAK_RSS_ENV = "ATST_PEAK_RSS_FILE";

/** This process's peak resident memory in bytes, or null where /proc does not say. */
export function peakRssBytes(): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/**
 * When {@link PEAK_RSS_ENV} names a file, writes `{"peakRssBytes": N}` to it
 * (N null where unknown); otherwise does nothing.
 *
 * @example
 * ```ts
 * await main(Deno.args).finally(reportPeakMemory);
 * ```
 */
export function reportPeakMemory(): void {
  const path = Deno.env.get(PEAK_RSS_ENV);
  if (path) Deno.writeTextFileSync(path, JSON.stringify({ peakRssBytes: peakRssBytes() }) + "\n");
}
