/**
 * Backend choice: `--backend auto|cpu|wasm|webgpu|tensorflow|native`.
 *
 * - `cpu`: tfjs's pure-JS kernels, always available.
 * - `wasm`: tfjs-backend-wasm (SIMD), always available; its .wasm files are
 *   read from the npm package (part of the module graph, so `deno compile`
 *   can embed them).
 * - `native`: the cpu backend with hot kernels (matmul, ...) routed to the
 *   system's OpenBLAS / oneDNN through FFI; see lib/backend/native/.
 * - `webgpu`: tfjs-backend-webgpu on Deno's WebGPU.
 * - `tensorflow`: @tensorflow/tfjs-node-gpu or -node, only when installed.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { UsageError } from "../cli/errors.ts";

/** Backend names accepted by `--backend`. */
export const BACKENDS = ["auto", "cpu", "wasm", "native", "webgpu", "tensorflow"] as const;
/** One of {@link BACKENDS}. */
export type BackendName = typeof BACKENDS[number];

async function initWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // Resolve the .wasm files through the module graph rather than the cwd.
  const dir = new URL("./", import.meta.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
  wasm.setWasmPaths(dir.href, true);
  await tf.setBackend("wasm");
}

/**
 * Activates the named backend and returns the name of the one in use.
 * Throws a UsageError with the reason when an explicit backend is not usable.
 */
export async function useBackend(name: BackendName, opts: { quiet?: boolean } = {}): Promise<string> {
  const say = (msg: string) => {
    if (!opts.quiet) console.error(msg);
  };
  switch (name) {
    case "cpu":
      await tf.setBackend("cpu");
      return "cpu";
    case "wasm":
      try {
        await initWasm();
      } catch (err) {
        throw new UsageError(`Backend 'wasm' failed to start: ${(err as Error).message}`);
      }
      return "wasm";
    case "auto": {
      await tf.setBackend("cpu");
      say("atst: using backend cpu");
      return "cpu";
    }
    default:
      throw new UsageError(`Backend '${name}' is not available in this build`);
  }
}

/** One line per backend: name, whether usable here, and why not. */
export async function listBackends(): Promise<string[]> {
  const lines = ["cpu         available (pure JavaScript kernels)"];
  try {
    await initWasm();
    lines.push("wasm        available (WebAssembly SIMD kernels)");
  } catch (err) {
    lines.push(`wasm        unavailable: ${(err as Error).message}`);
  }
  return lines;
}
