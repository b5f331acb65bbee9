/**
 * `deno task bench`: every benchmark, ours next to the Python reference on
 * the same machine in one run, printed with ratios. Each section runs in
 * its own subprocess so peak memory (VmHWM) is measured per section.
 *
 * Usage: deno task bench [--only featurize,embed,pretrain] [--backends native,wasm]
 *
 * @module
 */
import { parseArgs } from "node:util";

const SECTIONS: Record<string, string> = {
  featurize: "./featurize.ts",
  embed: "./embed.ts",
  pretrain: "./pretrain.ts",
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    backends: { type: "string" },
  },
});
const only = values.only ? values.only.split(",") : Object.keys(SECTIONS);
const cores = navigator.hardwareConcurrency;
console.log(`# atst bench ${new Date().toISOString()} on ${Deno.build.target}, ${cores} cores`);
let failed = 0;
for (const name of only) {
  const file = SECTIONS[name];
  if (!file) {
    console.error(`bench: unknown section '${name}' (known: ${Object.keys(SECTIONS).join(", ")})`);
    Deno.exit(2);
  }
  const path = new URL(file, import.meta.url);
  const args = ["run", "-A", path.pathname];
  if (values.backends) args.push("--backends", values.backends);
  console.log(`\n## ${name}`);
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!out.success) {
    console.log(`${name}: FAILED (exit ${out.code})`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);
