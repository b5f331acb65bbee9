/**
 * Installs the Debian packages the test suite and the demo use, when they
 * are missing and this process may install them (root with apt-get). Run by
 * `deno task test` and `.ci/run` before the tests; quick when all is there.
 *
 * - libopenblas0, libdnnl2: the `native` CPU backend (its tests are ignored,
 *   visibly, without them)
 * - mesa-vulkan-drivers: a software Vulkan driver so the WebGPU tests run on
 *   machines without a GPU (ignored, visibly, without an adapter)
 * - asterisk-core-sounds-{en,es,fr,it,ru}-wav: the demo's recordings (the
 *   demo test needs them)
 * - openmpi-bin (with libopenmpi3): `mpirun` and libmpi.so.40 for the
 *   data-parallel pretrain tests (ignored, visibly, without them)
 *
 * Usage: deno run -A tools/setup.ts [--check]   (--check: only report)
 *
 * @module
 */
import { LANGUAGES } from "../lib/demo/data.ts";
import { aptInstall, canAptInstall, debInstalled } from "../lib/io/apt.ts";

/** Packages the tests and the demo use, with what each is for. */
export const PACKAGES: Record<string, string> = {
  libopenblas0: "native backend (BLAS)",
  libdnnl2: "native backend (oneDNN)",
  "mesa-vulkan-drivers": "WebGPU tests on a software adapter",
  "openmpi-bin": "data-parallel pretrain tests (mpirun)",
  libopenmpi3: "data-parallel pretrain tests (libmpi.so.40)",
  ...Object.fromEntries(LANGUAGES.map((l) => [l.pkg, "demo recordings"])),
};

if (import.meta.main) {
  const checkOnly = Deno.args.includes("--check");
  const missing: string[] = [];
  for (const pkg of Object.keys(PACKAGES)) if (!(await debInstalled(pkg))) missing.push(pkg);
  if (!missing.length) Deno.exit(0);
  if (checkOnly || !(await canAptInstall())) {
    for (const p of missing) console.error(`setup: missing Debian package ${p} (${PACKAGES[p]})`);
    console.error(`setup: to install: sudo apt-get install -y ${missing.join(" ")}`);
    Deno.exit(0);
  }
  console.error(`setup: apt-get install -y ${missing.join(" ")}`);
  if (!(await aptInstall(missing))) {
    console.error("setup: apt-get failed; the tests that need these packages will say so");
  }
}
