/**
 * `deno task install [--prefix DIR]`: puts an `atst` command on PATH that
 * starts the pinned Deno runtime directly (no `npx`, no `deno task`), works
 * from any folder and needs no network once installed.
 *
 * Layout under the prefix (default `~/.local`):
 * ```
 * <prefix>/bin/atst                 shell wrapper: exec's the runtime below on main.ts
 * <prefix>/lib/atst/deno            the runtime this task runs on (Deno 2.9.6 via npx)
 * <prefix>/lib/atst/app/            main.ts, deno.json, deno.lock, commands/, lib/, node_modules/
 * <prefix>/lib/atst/cache/          DENO_DIR of the installed copy (transpiled modules)
 * ```
 * The app is a copy, so editing or deleting the checkout leaves the installed
 * `atst` as it was; rerun the task to update it. A new install is built
 * beside the old one and renamed over it, so a failed install leaves the old
 * one working.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";

const HELP = `deno task install [--prefix DIR]

Installs the atst command as DIR/bin/atst (default DIR: ~/.local) with the
Deno runtime this task runs on, a copy of the code and its npm packages under
DIR/lib/atst. After it, 'atst --help' works from any folder, offline, if
DIR/bin is on PATH. Rerun to update; 'rm -r DIR/lib/atst DIR/bin/atst' removes it.`;

/** What the installed app needs at run time, relative to the repository root. */
const APP_FILES = ["main.ts", "deno.json", "deno.lock", "commands", "lib"];

/** Shell-quotes one word for a POSIX sh script. */
function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    throw new Error(`'${cmd} ${args.join(" ")}' failed: ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The text of `<prefix>/bin/atst`. */
export function wrapperScript(libDir: string, version: string): string {
  const app = join(libDir, "app");
  return [
    "#!/bin/sh",
    `# atst ${version}, installed by 'deno task install'. Starts the pinned runtime directly.`,
    `DENO_DIR=${shQuote(join(libDir, "cache"))} DENO_NO_UPDATE_CHECK=1 exec ${
      shQuote(join(libDir, "deno"))
    } run -A --cached-only --config ${shQuote(join(app, "deno.json"))} ${
      shQuote(join(app, "main.ts"))
    } "$@"`,
    "",
  ].join("\n");
}

async function install(prefix: string): Promise<string> {
  const repo = resolve(dirname(new URL(import.meta.url).pathname), "..");
  const libDir = join(prefix, "lib", "atst");
  const stage = `${libDir}.tmp-${Deno.pid}`;
  const bin = join(prefix, "bin", "atst");
  const version = JSON.parse(await Deno.readTextFile(join(repo, "deno.json"))).version as string;
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(stage, "app"), { recursive: true });
  try {
    // The runtime: the very binary running this task (npx's deno@2.9.6), so the pin holds.
    await Deno.copyFile(Deno.execPath(), join(stage, "deno"));
    await Deno.chmod(join(stage, "deno"), 0o755);
    for (const f of APP_FILES) await run("cp", ["-R", join(repo, f), join(stage, "app")]);
    // npm packages: the locked versions into the app's own node_modules (from Deno's cache
    // when the checkout already has them, else from the registry). At run time the app reads
    // node_modules only, so nothing outside <prefix>/lib/atst is needed later.
    console.error("install: npm packages of deno.lock into the install ...");
    await run(join(stage, "deno"), [
      "install",
      "--frozen",
      "--quiet",
      "--config",
      join(stage, "app", "deno.json"),
    ]);
    // Replace any old install only now that the new one is complete.
    await Deno.remove(libDir, { recursive: true }).catch(() => {});
    await Deno.rename(stage, libDir);
  } catch (err) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw err;
  }
  await Deno.mkdir(dirname(bin), { recursive: true });
  const tmp = `${bin}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, wrapperScript(libDir, version), { mode: 0o755 });
  await Deno.rename(tmp, bin);
  // First runs fill the transpile cache, so later starts only load it (and prove it works).
  for (
    const args of [
      ["--version"],
      ...["featurize", "pretrain", "embed", "probe"].map((c) => [c, "--help"]),
    ]
  ) {
    await run(bin, args);
  }
  return bin;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { prefix: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const home = Deno.env.get("HOME");
  const prefix = resolve(values.prefix ?? (home ? join(home, ".local") : ""));
  if (!values.prefix && !home) {
    console.error("install: HOME is not set; pass --prefix DIR");
    Deno.exit(2);
  }
  try {
    const bin = await install(prefix);
    console.error(`install: ${bin} (${await run(bin, ["--version"]).then((s) => s.trim())})`);
    const onPath = (Deno.env.get("PATH") ?? "").split(":").includes(dirname(bin));
    if (!onPath) console.error(`install: add ${dirname(bin)} to PATH to call it as 'atst'`);
  } catch (err) {
    console.error(`install: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
