/**
 * Per-kernel wall-time accounting for a tfjs backend: wraps every kernel
 * registered for it, so a benchmark can print where the time goes.
 *
 * @module
 */
import { tf } from "../lib/backend/tf.ts";

/** Accumulated milliseconds and calls per kernel name. */
export type KernelTimes = Map<string, { ms: number; calls: number }>;

/**
 * Re-registers each kernel of `backend` with a timing wrapper and returns
 * the live table (only the outermost kernel of nested calls is counted).
 */
export function timeKernels(backend: string): KernelTimes {
  const times: KernelTimes = new Map();
  let depth = 0;
  for (const k of tf.getKernelsForBackend(backend)) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        depth++;
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          depth--;
          if (depth === 0) {
            const e = times.get(k.kernelName) ?? { ms: 0, calls: 0 };
            e.ms += performance.now() - t0;
            e.calls++;
            times.set(k.kernelName, e);
          }
        }
      },
    });
  }
  return times;
}

/** The table sorted by time, one line per kernel, top `n`. */
export function formatKernelTimes(times: KernelTimes, n = 15): string {
  const rows = [...times.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, v]) => s + v.ms, 0);
  const lines = rows.slice(0, n).map(([name, v]) =>
    `  ${name.padEnd(22)} ${v.ms.toFixed(1).padStart(9)} ms ${String(v.calls).padStart(6)} calls`
  );
  return [...lines, `  ${"(all kernels)".padEnd(22)} ${total.toFixed(1).padStart(9)} ms`].join(
    "\n",
  );
}
