/**
 * `deno task bench`: every benchmark, ours next to the Python reference on
 * the same machine in one run, printed with ratios. Each section runs in
 * its own subprocess so peak memory (VmHWM) is measured per section.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseFlagsOrExit } from "./_compare.ts";

/** Section -> script and its default arguments (later flags, e.g. `--backends`, override them). */
const SECTIONS: Record<string, { file: string; args: string[] }> = {
  // featurize: our front end vs torchaudio on the fixture clips.
  featurize: { file: "./featurize.ts", args: [] },
  // embed: ATST-small, 6 s clips, batch 8, clips/s vs PyTorch (the pure-JS cpu backend takes
  // minutes per batch here; add it with --backends native,wasm,cpu).
  embed: { file: "./embed.ts", args: ["--backends", "native,wasm"] },
  // embed-frame: ATST-Frame small (random weights), 10 s clips (one 1001-frame chunk), batch 8,
  // the authors' scene embedding of the last 12 blocks, clips/s vs PyTorch.
  "embed-frame": {
    file: "./embed.ts",
    args: ["--family", "frame", "--seconds", "10", "--backends", "native,wasm"],
  },
  // pretrain: one full student+teacher step, small, batch 8, two 6 s views, vs PyTorch.
  pretrain: { file: "./pretrain.ts", args: ["--backends", "native,wasm"] },
  // native: forward and forward+backward of ATST-small with peak RSS of each side vs PyTorch.
  native: { file: "./native_ops.ts", args: ["--backends", "native", "--train", "--rounds", "2"] },
  // distributed: 1 process on 2 cores vs 2 MPI ranks on 1 core each, allreduce bytes and ms
  // per step, and the interconnect an 8-rank ATST-small run needs (needs openmpi-bin).
  distributed: { file: "./distributed.ts", args: [] },
  // data: sharded cache build (1 worker vs all cores), views/s per worker, step wait with and
  // without prefetch, embed with and without read-ahead (issue 14).
  data: { file: "./data.ts", args: [] },
  // long-file: peak RSS of embed (every family, mode and format) on a 60-minute 44.1 kHz stereo
  // WAV against a 2.5-minute one, and of the cache build and a tiny pretrain on a 120-minute one.
  "long-file": { file: "./long_file.ts", args: [] },
  // startup: the installed `atst` (deno task install) against `npx -y deno@2.9.6 task atst`.
  startup: { file: "./startup.ts", args: [] },
};

const USAGE = `
Usage: deno task bench [--only ${Object.keys(SECTIONS).join(",")}] [--backends native,wasm]
                       [-- FLAGS...]

Runs each section (all by default) in its own process. FLAGS after "--" go to
each section's script, so name one section with them (e.g. --only embed -- --size
tiny --batch 1); see each script's --help for its flags.
`;

const { values, positionals: extra } = parseFlagsOrExit({
  args: Deno.args,
  options: {
    only: { type: "string" },
    backends: { type: "string" },
    help: { type: "boolean" },
  },
  allowPositionals: true,
});
if (values.help) {
  console.log(USAGE.trim());
  Deno.exit(0);
}
const only = values.only ? values.only.split(",") : Object.keys(SECTIONS);
const unknown = only.filter((name) => !SECTIONS[name]);
if (unknown.length) {
  console.error(
    `bench: unknown section '${unknown.join(", ")}' (known: ${Object.keys(SECTIONS).join(", ")})`,
  );
  Deno.exit(2);
}
const cores = navigator.hardwareConcurrency;
console.log(`# atst bench ${new Date().toISOString()} on ${Deno.build.target}, ${cores} cores`);
let failed = 0;
for (const name of only) {
  const section = SECTIONS[name]!;
  const args = [
    "run",
    "-A",
    fileURLToPath(new URL(section.file, import.meta.url)),
    ...section.args,
    ...(values.backends ? ["--backends", values.backends] : []),
    ...extra,
  ];
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
