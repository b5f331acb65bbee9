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
 *
 * Usage: deno run -A tools/setup.ts [--check]   (--check: only report)
 *
 * @module
 */
import { LANGUAGES } from "../lib/demo/data.ts";

/** Packages the tests and the demo use, with what each is for. */
export const PACKAGES: Record<string, string> = {
  libopenblas0: "native backend (BLAS)",
  libdnnl2: "native backend (oneDNN)",
  "mesa-vulkan-drivers": "WebGPU tests on a software adapter",
  ...Object.fromEntries(LANGUAGES.map((l) => [l.pkg, "demo recordings"])),
};

async function installed(pkg: string): Promise<boolean> {
  const out = await new Deno.Command("dpkg-query", {
    args: ["-W", "-f=${Status}", pkg],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  return out !== undefined && new TextDecoder().decode(out.stdout).includes("install ok installed");
}

async function apt(args: string[]): Promise<boolean> {
  const out = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "inherit",
  }).output().catch(() => undefined);
  return out?.success ?? false;
}

if (import.meta.main) {
  const checkOnly = Deno.args.includes("--check");
  const missing: string[] = [];
  for (const pkg of Object.keys(PACKAGES)) if (!(await installed(pkg))) missing.push(pkg);
  if (!missing.length) Deno.exit(0);
  const hasApt = await new Deno.Command("apt-get", { args: ["--version"], stdout: "null" })
    .output().then((o) => o.success, () => false);
  if (checkOnly || Deno.uid() !== 0 || !hasApt) {
    for (const p of missing) console.error(`setup: missing Debian package ${p} (${PACKAGES[p]})`);
    console.error(`setup: to install: sudo apt-get install -y ${missing.join(" ")}`);
    Deno.exit(0);
  }
  console.error(`setup: apt-get install -y ${missing.join(" ")}`);
  // A fresh machine may have no package lists yet: update once, then install.
  if (!(await apt(["install", "-y", "-qq", ...missing]))) {
    if (!(await apt(["update", "-qq"])) || !(await apt(["install", "-y", "-qq", ...missing]))) {
      console.error("setup: apt-get failed; the tests that need these packages will say so");
    }
  }
}
