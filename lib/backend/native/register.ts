/**
 * The "native" tfjs backend: tfjs's cpu backend (data in JS typed arrays)
 * with its hot kernels replaced by calls into the system's OpenBLAS through
 * Deno's FFI (large matrix products, softmax and GELU into oneDNN when
 * present), plus a few hand-tuned JS kernels where tfjs's generic ones are
 * slow. Everything else is the cpu backend's own kernel, so results agree
 * with "cpu" to float rounding. It also registers the kernels of the ops
 * in lib/ops (linear, GELU, LayerNorm, attention, the AdamW and EMA
 * steps), which those ops then run instead of their composed fallbacks.
 *
 * Environment:
 * - `ATST_BLAS=/path/libopenblas.so.0` picks the BLAS file (default: the
 *   first of libopenblas.so.0, libblas.so.3 that opens).
 * - `OPENBLAS_NUM_THREADS=n` sets OpenBLAS's threads (default: all cores;
 *   one when oneDNN is loaded, as it then only gets small products).
 * - `ATST_DNNL=/path/libdnnl.so.2` picks oneDNN (optional: without it
 *   OpenBLAS does every product and softmax and GELU are JS loops).
 * - `OMP_NUM_THREADS` sets oneDNN's threads (OpenMP's default: all cores).
 * - `ATST_NATIVE=0` turns the native backend off (for comparisons).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { loadBlas } from "./_blas.ts";
import { loadDnnl } from "./_dnnl.ts";
import { matMulKernels } from "./matmul.ts";
import { fastKernels } from "./kernels.ts";
import { geluKernels } from "./gelu.ts";
import { layerNormKernels } from "./layer_norm.ts";
import { attentionKernels } from "./attention.ts";
import { optimizerStepKernels } from "./optimizer_steps.ts";
import { PooledCpuBackend } from "./buffer_pool.ts";

/** Name the backend is registered under. */
export const NATIVE_BACKEND = "native";

/** What {@link registerNativeBackend} reports. */
export type NativeStatus = { ok: true; libs: string[] } | { ok: false; reason: string };

let status: NativeStatus | undefined;

/**
 * Registers the "native" backend (idempotent; the first answer is cached).
 * It does not switch to it: call `tf.setBackend("native")` after `ok`.
 *
 * @example
 * ```ts
 * const st = await registerNativeBackend();
 * if (st.ok) await tf.setBackend("native");
 * else console.error(`atst: native backend unavailable: ${st.reason}`);
 * ```
 */
export async function registerNativeBackend(): Promise<NativeStatus> {
  if (status) return status;
  try {
    status = await register();
  } catch (err) {
    // E.g. no --allow-env or --allow-ffi: the stock backends still work.
    status = { ok: false, reason: (err as Error).message.split("\n")[0]! };
  }
  return status;
}

// deno-lint-ignore require-await
async function register(): Promise<NativeStatus> {
  if (Deno.env.get("ATST_NATIVE") === "0") {
    return { ok: false, reason: "turned off by ATST_NATIVE=0" };
  }
  const blas = loadBlas();
  if (typeof blas === "string") return { ok: false, reason: blas };
  const dnnlOrReason = loadDnnl();
  const dnnl = typeof dnnlOrReason === "string" ? undefined : dnnlOrReason;
  // With oneDNN (OpenMP threads, all cores by default) doing the large products, OpenBLAS keeps
  // to the small ones on one thread: two idle thread teams spin-waiting against each other on
  // a 2-core machine made everything several times slower.
  if (dnnl) {
    blas.setThreads(1);
    blas.threads = 1;
  }
  const overrides = [
    ...matMulKernels(blas, NATIVE_BACKEND, dnnl),
    ...fastKernels(NATIVE_BACKEND, dnnl),
    ...geluKernels(NATIVE_BACKEND, dnnl),
    ...layerNormKernels(NATIVE_BACKEND),
    ...attentionKernels(NATIVE_BACKEND, blas, dnnl),
    ...optimizerStepKernels(NATIVE_BACKEND),
  ];
  const replaced = new Set(overrides.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (!replaced.has(k.kernelName)) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
  for (const k of overrides) tf.registerKernel(k);
  // Priority 0: below cpu (1) and wasm (2), so registering never changes tfjs's default.
  tf.registerBackend(NATIVE_BACKEND, () => new PooledCpuBackend(), 0);
  const threads = blas.threads > 0
    ? `, ${blas.threads} thread${blas.threads === 1 ? "" : "s"}`
    : "";
  const libs = [`${blas.path} (${blas.config || "BLAS"}${threads})`];
  libs.push(
    dnnl
      ? `${dnnl.path} (oneDNN: large matrix products, softmax, GELU)`
      : `no oneDNN: ${dnnlOrReason}`,
  );
  return { ok: true, libs };
}
