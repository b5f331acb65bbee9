/**
 * `deno task bench`: every benchmark, ours next to the Python reference on
 * the same machine in one run, printed with ratios. Each section runs in
 * its own subprocess so peak memory (VmHWM) is measured per section.
 *
 * Usage: deno task bench [--only featurize,embed,pretrain,native] [--backends native,wasm]
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Section -> script and its default arguments (`--backends` replaces the script's own list). */
const SECTIONS: Record<string, { file: string; args: string[] }> = {
  // featurize: our front end vs torchaudio on the fixture clips.
  featurize: { file: "./featurize.ts", args: [] },
  // embed: ATST-small, 6 s clips, batch 8, clips/s vs PyTorch (the pure-JS cpu backend takes
  // minutes per batch here; add it with --backends native,wasm,cpu).
  embed: { file: "./embed.ts", args: ["--backends", "native,wasm"] },
  // pretrain: one full student+teacher step, small, batch 8, two 6 s views, vs PyTorch.
  pretrain: { file: "./pretrain.ts", args: ["--backends", "native,wasm"] },
  // native: forward and forward+backward of ATST-small with peak RSS of each side vs PyTorch.
  native: { file: "./native_ops.ts", args: ["--backends", "native", "--train", "--rounds", "2"] },
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
  const section = SECTIONS[name];
  if (!section) {
    console.error(`bench: unknown section '${name}' (known: ${Object.keys(SECTIONS).join(", ")})`);
    Deno.exit(2);
  }
  const path = new URL(section.file, import.meta.url);
  const args = ["run", "-A", path.pathname, ...section.args];
  if (values.backends) {
    const i = args.indexOf("--backends");
    if (i >= 0) args.splice(i, 2);
    args.push("--backends", values.backends);
  }
  console.log(`\n## ${name}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (!out.success) {
    console.log(`${name}: FAILED (exit ${out.code})`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);
