/**
 * Backend choice: `--backend auto|cpu|wasm|native|webgpu|tensorflow`.
 *
 * - `cpu`: tfjs's pure-JS kernels, always available, the reference.
 * - `wasm`: tfjs-backend-wasm (XNNPACK, SIMD); its .wasm files are read from
 *   the npm package (part of the module graph, so `deno compile` embeds them).
 * - `native`: the cpu backend with hot kernels (matmul, ...) routed to the
 *   system's OpenBLAS through FFI; see lib/backend/native/.
 * - `webgpu`: tfjs-backend-webgpu on Deno's WebGPU (Vulkan); see webgpu.ts.
 * - `tensorflow`: @tensorflow/tfjs-node-gpu or -node, only when the user
 *   has installed one; see tensorflow.ts.
 * - `auto`: a real GPU through webgpu, else tensorflow when installed, else
 *   native, else wasm, else cpu. A software WebGPU adapter (llvmpipe) is
 *   never picked: it is the CPU running shaders, slower than native.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { UserError } from "../errors.ts";
import { initWebGpu, probeAdapter } from "./webgpu.ts";
import { findTensorflow, initTensorflow } from "./tensorflow.ts";
import { NATIVE_BACKEND, registerNativeBackend } from "./native/register.ts";

/** Backend names accepted by `--backend`. */
export const BACKENDS = ["auto", "cpu", "wasm", "native", "webgpu", "tensorflow"] as const;
/** One of {@link BACKENDS}. */
export type BackendName = typeof BACKENDS[number];
/** A backend that can actually run ops (everything but `auto`). */
export type ConcreteBackend = Exclude<BackendName, "auto">;

/** Backends whose matrix products are BLAS or GPU kernels rather than JS or wasm loops. */
const FAST_PRODUCTS: readonly string[] = ["native", "webgpu", "tensorflow"];

/**
 * Whether the active backend's matrix products are BLAS or GPU kernels:
 * there a product of a few hundred rows pays for its tensor copies, while
 * on `cpu` and `wasm` plain JS loops over the same data can be faster.
 *
 * @example
 * ```ts
 * const gemm = hasFastMatrixProducts() && classes > 4 ? tfGemm : jsGemm;
 * ```
 */
export function hasFastMatrixProducts(): boolean {
  return FAST_PRODUCTS.includes(tf.getBackend());
}

/** The Debian/Ubuntu packages the native backend loads (OpenBLAS; oneDNN is optional). */
export const NATIVE_APT_PACKAGES = "libopenblas0 libdnnl2";

/** Whether one backend can run here, and a short why/what. */
export interface BackendStatus {
  name: ConcreteBackend;
  available: boolean;
  /** What it runs on when available (adapter, libraries), else why not. */
  detail: string;
  /** False for a backend that works but that `auto` skips (a software GPU). */
  usedByAuto: boolean;
}

/** Options of {@link useBackend}. */
export interface UseBackendOptions {
  /** Print nothing on stderr (auto's choice, missing-library hints). */
  quiet?: boolean;
}

let nativeHintShown = false;
let wasmPathsSet = false;

async function initWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (!wasmPathsSet) {
    // Resolve the .wasm files through the module graph rather than the cwd.
    const file = import.meta.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
    wasm.setWasmPaths(new URL("./", file).href, true);
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs could not start the wasm backend");
}

/** Makes `name` the active backend; returns what it runs on, or throws why not. */
async function activate(name: ConcreteBackend): Promise<string> {
  switch (name) {
    case "cpu":
      await tf.setBackend("cpu");
      return "pure JavaScript kernels";
    case "wasm":
      await initWasm();
      return "WebAssembly kernels";
    case "native": {
      const st = await registerNativeBackend();
      // One command to copy, even where the reason already names a package.
      if (!st.ok) throw new Error(`${st.reason} (apt-get install ${NATIVE_APT_PACKAGES})`);
      if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error("tfjs could not start it");
      return `cpu kernels with ${st.libs.join(", ")}`;
    }
    case "webgpu": {
      const a = await initWebGpu();
      return a.software ? `software adapter ${a.description}` : `GPU ${a.description}`;
    }
    case "tensorflow":
      return `TensorFlow C library via ${await initTensorflow()}`;
  }
}

/**
 * Activates the named backend and returns the name of the one in use.
 * Throws a UserError with the reason when an explicit backend is not
 * usable. `auto` reports its choice in one line on stderr.
 *
 * @example
 * ```ts
 * const name = await useBackend("auto"); // stderr: "atst: backend native (...)"
 * ```
 */
export async function useBackend(name: BackendName, opts: UseBackendOptions = {}): Promise<string> {
  const say = (msg: string) => {
    if (!opts.quiet) console.error(`atst: ${msg}`);
  };
  if (name === "auto") return await useAuto(say);
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new UserError(`Unknown backend '${name}' (expected one of ${BACKENDS.join(", ")})`);
  }
  let detail: string;
  try {
    detail = await activate(name);
  } catch (err) {
    throw new UserError(`Backend '${name}' is not available: ${reason(err)}`);
  }
  if (name === "webgpu" && detail.startsWith("software")) {
    say(`backend webgpu runs on a ${detail}: the CPU emulates the GPU (slow)`);
  }
  return name;
}

async function useAuto(say: (msg: string) => void): Promise<string> {
  const choose = (name: string, detail: string) => {
    say(`backend ${name} (${detail})`);
    return name;
  };
  const adapter = await probeAdapter();
  if (adapter.ok && !adapter.software) {
    try {
      return choose("webgpu", await activate("webgpu"));
    } catch (err) {
      say(`GPU ${adapter.description} found but webgpu failed to start: ${reason(err)}`);
    }
  }
  if (findTensorflow().ok) {
    try {
      return choose("tensorflow", await activate("tensorflow"));
    } catch (err) {
      say(`tensorflow backend skipped: ${reason(err)}`);
    }
  }
  try {
    return choose("native", await activate("native"));
  } catch (err) {
    // Said once per process; ATST_NATIVE=0 is the user's own choice, no hint.
    if (!nativeHintShown && Deno.env.get("ATST_NATIVE") !== "0") {
      say(`native kernels unavailable: ${reason(err)}`);
    }
    nativeHintShown = true;
  }
  try {
    return choose("wasm", await activate("wasm"));
  } catch (err) {
    say(`wasm backend skipped: ${reason(err)}`);
  }
  return choose("cpu", await activate("cpu"));
}

/**
 * Checks every backend on this machine. Starting a backend is the only
 * honest test, so this does; the backend active before the call is
 * restored afterwards.
 */
export async function probeBackends(): Promise<BackendStatus[]> {
  const before = tf.getBackend();
  const out: BackendStatus[] = [];
  const adapter = await probeAdapter();
  for (const name of BACKENDS) {
    if (name === "auto") continue;
    const found = name === "tensorflow" ? findTensorflow() : undefined;
    if (found && !found.ok) {
      // Not installed: say how to install it rather than failing an import.
      out.push({ name, available: false, detail: found.reason, usedByAuto: false });
      continue;
    }
    try {
      const detail = await activate(name);
      const software = name === "webgpu" && adapter.ok && adapter.software;
      out.push({
        name,
        available: true,
        detail: software ? `${detail}; not used by auto` : detail,
        usedByAuto: !software,
      });
    } catch (err) {
      out.push({ name, available: false, detail: reason(err), usedByAuto: false });
    }
  }
  if (before && tf.getBackend() !== before) await tf.setBackend(before);
  return out;
}

/** The backend `auto` picks given {@link probeBackends}'s answer. */
export function autoChoice(statuses: BackendStatus[]): ConcreteBackend {
  const order: ConcreteBackend[] = ["webgpu", "tensorflow", "native", "wasm", "cpu"];
  for (const name of order) {
    if (statuses.some((s) => s.name === name && s.available && s.usedByAuto)) return name;
  }
  return "cpu";
}

/**
 * One line per backend for `atst --backends`: name, whether usable on this
 * machine and on what, or why not; then the one `auto` would pick.
 *
 * @example
 * ```ts
 * for (const line of await listBackends()) console.log(line);
 * // webgpu      available (software adapter llvmpipe (LLVM 15.0.6, 256 bits); not used by auto)
 * ```
 */
export async function listBackends(): Promise<string[]> {
  const statuses = await probeBackends();
  const lines = statuses.map((s) =>
    `${s.name.padEnd(11)} ${s.available ? `available (${s.detail})` : `unavailable: ${s.detail}`}`
  );
  lines.push(`${"auto".padEnd(11)} picks ${autoChoice(statuses)}`);
  return lines;
}

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
