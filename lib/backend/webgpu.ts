/**
 * The WebGPU backend: tfjs-backend-webgpu on Deno's built-in WebGPU (wgpu
 * over Vulkan, so no CUDA install is needed; any Vulkan driver works).
 *
 * tfjs-backend-webgpu 4.22 computes in float32 only (it has no f16 path and
 * no flag that selects one), so GPU results differ from "cpu" by float32
 * rounding and summation order only.
 *
 * A software adapter (Mesa's llvmpipe/lavapipe, SwiftShader) runs the same
 * shaders on the CPU: correct but slower than the native or wasm backends,
 * so `auto` never picks it; `--backend webgpu` still may, which is what CI
 * does to test the GPU code path without a GPU.
 *
 * @module
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import { tf } from "./tf.ts";

/** What {@link probeAdapter} found. */
export type AdapterProbe =
  | { ok: true; description: string; software: boolean }
  | { ok: false; reason: string };

// Mesa's software Vulkan drivers and Google's, which report themselves as
// CPU-type devices; some wgpu builds do not set isFallbackAdapter for them.
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader/i;

let probed: Promise<AdapterProbe> | undefined;

/**
 * Deno's Vulkan/Wayland start-up prints "XDG_RUNTIME_DIR is invalid or not
 * set" for every adapter request when that variable is missing (ssh
 * sessions, containers, CI). Pointing it at a private directory of our own
 * (mode 0700, as the XDG spec asks) silences it without touching the user's.
 */
export function ensureRuntimeDir(): void {
  const current = Deno.env.get("XDG_RUNTIME_DIR");
  if (current && isDir(current)) return;
  const uid = Deno.uid() ?? "user";
  const dir = join(tmpdir(), `atst-runtime-${uid}`);
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = Deno.statSync(dir);
    if (!st.isDirectory || (st.uid !== null && st.uid !== Deno.uid())) return;
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Only a cosmetic warning is at stake.
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Asks Deno's WebGPU for the adapter tfjs would use (high-performance
 * preference) and checks that a device can be opened on it. The answer is
 * cached for the process.
 *
 * @example
 * ```ts
 * const a = await probeAdapter();
 * if (a.ok && !a.software) console.log(`GPU: ${a.description}`);
 * ```
 */
export function probeAdapter(): Promise<AdapterProbe> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<AdapterProbe> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    return { ok: false, reason: "this Deno build has no WebGPU (navigator.gpu is missing)" };
  }
  ensureRuntimeDir();
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (err) {
    return { ok: false, reason: `requesting a WebGPU adapter failed: ${firstLine(err)}` };
  }
  if (!adapter) {
    const only = Deno.env.get("DENO_WEBGPU_BACKEND");
    if (only) return { ok: false, reason: `no WebGPU adapter for DENO_WEBGPU_BACKEND=${only}` };
    return {
      ok: false,
      reason: "no WebGPU adapter (no Vulkan driver found: install the GPU vendor's Vulkan " +
        "driver, or mesa-vulkan-drivers for a software one)",
    };
  }
  const info = adapter.info;
  const description = info.description ||
    [info.vendor && `vendor ${info.vendor}`, info.architecture].filter(Boolean).join(" ") ||
    "unnamed adapter";
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; read either.
  const fallback = Boolean(
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  try {
    const device = await adapter.requestDevice();
    device.destroy();
  } catch (err) {
    return { ok: false, reason: `adapter ${description} cannot open a device: ${firstLine(err)}` };
  }
  return { ok: true, description, software: fallback || SOFTWARE_NAMES.test(description) };
}

/** Options of {@link initWebGpu}. */
export interface WebGpuOptions {
  /**
   * Let tfjs run ops on small tensors that still live in JS memory with its
   * cpu kernels (tfjs's default, true). Tests turn it off so every op they
   * check runs as a GPU shader.
   */
  cpuForward?: boolean;
}

/**
 * Registers tfjs-backend-webgpu (on first use) and makes it the active
 * backend. Throws with the reason when no adapter can be used.
 */
export async function initWebGpu(opts: WebGpuOptions = {}): Promise<AdapterProbe & { ok: true }> {
  const adapter = await probeAdapter();
  if (!adapter.ok) throw new Error(adapter.reason);
  await import("@tensorflow/tfjs-backend-webgpu");
  // The flag exists only once the package is loaded.
  if (opts.cpuForward !== undefined) tf.env().set("WEBGPU_CPU_FORWARD", opts.cpuForward);
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error(`tfjs could not start on adapter ${adapter.description}`);
  }
  explainSyncReads(tf.backend() as unknown as SyncReader);
  return adapter;
}

interface SyncReader {
  readSync(dataId: object): unknown;
  tensorMap: { get(dataId: object): { values?: unknown; resource?: unknown } | undefined };
  [patched]?: true;
}
const patched = Symbol("atst-readSync");

/**
 * tfjs-webgpu reads GPU buffers synchronously (dataSync, arraySync) through
 * a 2D OffscreenCanvas, which Deno does not have: it fails deep inside with
 * "Cannot read properties of null (reading 'clearRect')". Name the real
 * problem instead. Tensors still in JS memory read fine.
 */
function explainSyncReads(backend: SyncReader): void {
  if (backend[patched]) return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    const entry = backend.tensorMap.get(dataId);
    if (entry && entry.values == null && entry.resource != null) {
      throw new Error(
        "A tensor on the webgpu backend cannot be read synchronously in Deno " +
          "(dataSync/arraySync/bufferSync): use `await tensor.data()` instead",
      );
    }
    return readSync(dataId);
  };
  backend[patched] = true;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
