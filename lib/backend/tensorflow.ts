/**
 * The "tensorflow" backend: TensorFlow's C library through
 * `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node` (CPU), used
 * only when the user has installed one of them. Their install script
 * downloads libtensorflow from Google's storage, so they are not a default
 * dependency; see {@link TENSORFLOW_INSTALL_HINT}.
 *
 * Sharing one tfjs-core: the package is looked up through deno.json's import
 * map, where `deno install` puts it, so its `require("@tensorflow/tfjs-core")`
 * resolves to the same npm package (same version, same module instance) as
 * lib/backend/tf.ts. On load it calls `registerBackend("tensorflow", ...)`
 * and `setBackend("tensorflow")` on that engine, which tfjs-core keeps in a
 * global, so our `tf` sees the backend with no further wiring.
 *
 * @module
 */
import { tf } from "./tf.ts";

/** The packages tried, GPU build first. */
export const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

/** The tfjs version every package must match (that of deno.json's tfjs-core). */
export const TFJS_VERSION = "4.22.0";

/** One line telling a user how to install the backend (needs internet access). */
export const TENSORFLOW_INSTALL_HINT = "install it on a machine with internet access: " +
  `deno install --save-exact --allow-scripts=npm:@tensorflow/tfjs-node-gpu npm:@tensorflow/tfjs-node-gpu@${TFJS_VERSION} ` +
  `(needs CUDA 11.2 and cuDNN 8; @tensorflow/tfjs-node@${TFJS_VERSION} for CPU only)`;

/** What {@link findTensorflow} found. */
export type TensorflowProbe =
  | { ok: true; pkg: string; url: string }
  | { ok: false; reason: string };

/**
 * Finds which tfjs-node package the import map provides, without loading
 * it (loading starts libtensorflow and, for the GPU build, CUDA).
 */
export function findTensorflow(): TensorflowProbe {
  for (const pkg of TENSORFLOW_PACKAGES) {
    let url: string;
    try {
      url = import.meta.resolve(pkg);
    } catch {
      continue; // Not in the import map: not installed.
    }
    return { ok: true, pkg, url };
  }
  return {
    ok: false,
    reason: `neither ${TENSORFLOW_PACKAGES.join(" nor ")} is installed; ${TENSORFLOW_INSTALL_HINT}`,
  };
}

let loaded: Promise<string> | undefined;

/**
 * Loads the installed tfjs-node package (once) and makes "tensorflow" the
 * active backend. Resolves to the package name; throws with the reason when
 * it is missing or fails to load (e.g. its install script did not run, or
 * CUDA libraries are missing).
 */
export function initTensorflow(): Promise<string> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<string> {
  const found = findTensorflow();
  if (!found.ok) throw new Error(found.reason);
  // A variable specifier keeps `deno check` and `deno compile` from trying
  // to resolve a package that is normally absent.
  const spec: string = found.pkg;
  let mod: { version?: Record<string, string> };
  try {
    mod = await import(spec);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim()
      .replace(/\.$/, "");
    throw new Error(
      `${found.pkg} is installed but failed to load (${msg}); reinstall it with --allow-scripts`,
    );
  }
  const version = mod.version?.["tfjs-core"];
  if (version && version !== tf.version_core) {
    throw new Error(
      `${found.pkg} uses tfjs-core ${version} but atst uses ${tf.version_core}; ` +
        `install ${found.pkg}@${TFJS_VERSION}`,
    );
  }
  if (!tf.findBackend("tensorflow") || !(await tf.setBackend("tensorflow"))) {
    throw new Error(`${found.pkg} loaded but did not start the "tensorflow" backend`);
  }
  return found.pkg;
}
