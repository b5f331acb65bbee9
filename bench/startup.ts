/**
 * Start-up cost of the two ways to call atst: the `atst` command that
 * `deno task install` puts on PATH, against `npx -y deno@2.9.6 task atst`
 * from the repository root (the README's set-up path). Installs into a
 * temporary prefix, runs each command `--runs` times after one untimed run,
 * and prints median wall times and their ratio.
 *
 * Usage: deno run -A bench/startup.ts [--runs 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { median, timeRuns } from "./_measure.ts";

const repo = new URL("..", import.meta.url).pathname;
// --backends is accepted (bench/run.ts may pass it to every section) and ignored: both sides
// run the same backend choice (auto).
const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string" }, backends: { type: "string" } },
});
const runs = Number(values.runs ?? 5);

async function call(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`'${cmd} ${args.join(" ")}' failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Median wall seconds of `runs` calls after one untimed call (which fills caches on both sides). */
async function medianWall(cmd: string, args: string[], cwd: string): Promise<number> {
  return median((await timeRuns(() => call(cmd, args, cwd), { warmup: 1, reps: runs })).wall);
}

const prefix = await Deno.makeTempDir({ prefix: "atst-startup-" });
const elsewhere = await Deno.makeTempDir({ prefix: "atst-cwd-" });
try {
  const inst = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repo, "tools/install.ts"), "--prefix", prefix],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!inst.success) throw new Error("deno task install failed");
  const atst = join(prefix, "bin", "atst");
  const audio = join(repo, "fixtures/audio/short_700.wav");
  const model = join(repo, "fixtures/model/b.safetensors");
  const cases: [string, string[]][] = [
    ["--version", ["--version"]],
    ["embed 1 file (tiny model)", ["embed", audio, "--model", model, "--quiet"]],
  ];
  console.log(`startup: median of ${runs} runs after one untimed run; atst run from ${elsewhere}`);
  for (const [label, args] of cases) {
    const ours = await medianWall(atst, args, elsewhere);
    const npx = await medianWall("npx", ["-y", "deno@2.9.6", "task", "-q", "atst", ...args], repo);
    console.log(
      `  ${label.padEnd(26)} atst ${ours.toFixed(2)} s, npx task ${npx.toFixed(2)} s ` +
        `= ${(npx / ours).toFixed(1)}x faster start (${(npx - ours).toFixed(2)} s saved per call)`,
    );
  }
} finally {
  await Deno.remove(prefix, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
}
