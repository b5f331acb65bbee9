/**
 * Debian package checks and installs for the optional system libraries and
 * the demo data. Installs only as root on a machine with apt-get; callers
 * print the `sudo apt-get install` line otherwise.
 *
 * @module
 */

/** True when dpkg reports `pkg` as installed. */
export async function debInstalled(pkg: string): Promise<boolean> {
  const out = await new Deno.Command("dpkg-query", {
    args: ["-W", "-f=${Status}", pkg],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  return out !== undefined && new TextDecoder().decode(out.stdout).includes("install ok installed");
}

/** True when this process can install Debian packages (root, apt-get present). */
export async function canAptInstall(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  return await new Deno.Command("apt-get", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
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

/**
 * `apt-get install -y pkgs`; on failure updates the package lists once (a
 * fresh machine may have none) and tries again. Returns whether it worked.
 */
export async function aptInstall(pkgs: string[]): Promise<boolean> {
  if (await apt(["install", "-y", "-qq", ...pkgs])) return true;
  return (await apt(["update", "-qq"])) && (await apt(["install", "-y", "-qq", ...pkgs]));
}
