/**
 * Data-parallel pre-training on this machine, in one run: the step time of
 * one process on 2 cores against 2 MPI ranks on 1 core each (same global
 * batch), the gradient allreduce's bytes, calls and milliseconds per
 * step, and from them an estimate for ATST-small on 8 ranks at batch 256
 * per rank: the bytes each step moves and the interconnect bandwidth that
 * keeps the allreduce under 10 % of a step.
 *
 * Needs Open MPI (`apt-get install openmpi-bin libopenmpi3`) and `taskset`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { median } from "./_measure.ts";
import { parseFlagsOrExit } from "./_compare.ts";

const USAGE = `
Usage: deno run -A bench/distributed.ts [--size tiny] [--family clip] [--batch 8] [--crop 2]
       [--steps 3] [--warmup 1] [--backend native] [--step-s 1]
  --family F   clip or frame (ATST-Frame: masks, loss on the masked tokens)
  --step-s S   step time of ATST-small at batch 256 on one accelerator, for the estimate
`;

const text = { type: "string" } as const;
const { values } = parseFlagsOrExit({
  args: Deno.args,
  options: {
    size: text,
    family: text,
    batch: text,
    crop: text,
    steps: text,
    warmup: text,
    backend: text,
    "step-s": text,
    child: text,
    help: { type: "boolean" },
  },
});
if (values.help) {
  console.log(USAGE.trim());
  Deno.exit(0);
}
if (values.family !== undefined && !["clip", "frame"].includes(values.family)) {
  console.error(`distributed: --family must be clip or frame, got '${values.family}'`);
  Deno.exit(2);
}
const s = {
  size: String(values.size ?? "tiny"),
  family: String(values.family ?? "clip"),
  batch: Number(values.batch ?? 8),
  crop: Number(values.crop ?? 2),
  steps: Number(values.steps ?? 3),
  warmup: Number(values.warmup ?? 1),
  backend: String(values.backend ?? "native"),
};

/** One measurement in this process (a rank of a job, or alone); rank 0 prints a JSON line. */
async function child(): Promise<void> {
  const { openWorld } = await import("../lib/dist/world.ts");
  const { useBackend } = await import("../lib/backend/backend.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const { enableGradients } = await import("../lib/model/gradients.ts");
  const { defaultTrainConfig } = await import("../lib/train/config.ts");
  const { PretrainSession } = await import("../lib/train/pretrain.ts");
  const { memoryClips } = await import("../lib/train/views.ts");
  const { noise } = await import("./_measure.ts");
  const world = await openWorld();
  await useBackend(s.backend as "cpu", { quiet: true });
  await enableGradients();
  const next = noise(0.1);
  const clips = Array.from({ length: 16 }, () => Float32Array.from({ length: 48000 }, next));
  const session = new PretrainSession(
    {
      ...defaultTrainConfig({
        steps: s.warmup + s.steps,
        batch: s.batch,
        family: s.family as "clip",
      }),
      encoder: encoderConfig(s.size as "tiny", { family: s.family as "clip" }),
      cropSeconds: s.crop,
      warmup: 0,
    },
    memoryClips(clips),
    { world },
  );
  const wall: number[] = [], ms: number[] = [];
  for (let i = 0; i < s.warmup + s.steps; i++) {
    const line = await session.trainStep();
    if (i < s.warmup) continue;
    wall.push(line.seconds);
    ms.push(session.lastAllreduce.ms);
  }
  const { calls, bytes } = session.lastAllreduce;
  session.dispose();
  if (world.rank === 0) {
    console.log(JSON.stringify({ step_s: median(wall), allreduce_ms: median(ms), calls, bytes }));
  }
  world.finalize();
}

interface Result {
  step_s: number;
  allreduce_ms: number;
  calls: number;
  bytes: number;
}

async function measure(cmd: string[], env: Record<string, string> = {}): Promise<Result> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env: { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`${cmd[0]} failed (exit ${out.code})`);
  return JSON.parse(text) as Result;
}

/** Parameters of ATST-small's student: encoder, projector and predictor (4096 / 256). */
async function smallParams(): Promise<number> {
  const { Encoder } = await import("../lib/model/encoder.ts");
  const { encoderConfig } = await import("../lib/model/config.ts");
  const enc = new Encoder(encoderConfig("small"), { seed: 0 });
  const n = enc.paramCount();
  const d = enc.cfg.dim;
  enc.dispose();
  const head = (din: number) => din * 4096 + 2 * 4096 + 4096 * 256;
  return n + head(d) + head(256);
}

if (values.child) {
  await child();
} else {
  const self = fileURLToPath(import.meta.url);
  const flags = Object.entries(s).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const run = [Deno.execPath(), "run", "-A", self, ...flags, "--child", "1"];
  console.log(
    `data-parallel pretrain step (${s.size} ${s.family}, global batch ${s.batch}, ${s.crop} s crops, ` +
      `${s.backend}, median of ${s.steps} after ${s.warmup})`,
  );
  const one = await measure(["taskset", "-c", "0,1", ...run], { OMP_NUM_THREADS: "2" });
  const two = await measure(
    ["mpirun", "-q", "--oversubscribe", "--bind-to", "core", "-np", "2", ...run],
    { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", OMPI_MCA_mpi_yield_when_idle: "1" },
  );
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(`1 rank on 2 cores:     step ${one.step_s.toFixed(3)} s`);
  console.log(
    `2 ranks on 1 core each: step ${two.step_s.toFixed(3)} s (${
      (one.step_s / two.step_s).toFixed(2)
    }x); gradient allreduce ${mb(two.bytes)} MiB in ${two.calls} calls, ` +
      `${two.allreduce_ms.toFixed(1)} ms per step (${
        (100 * two.allreduce_ms / 1000 / two.step_s).toFixed(1)
      } % of the step)`,
  );
  const bytes = 4 * await smallParams();
  const ranks = 8, stepS = Number(values["step-s"] ?? 1);
  // A ring allreduce sends and receives 2 (N - 1) / N of the buffer per rank.
  const wire = 2 * (ranks - 1) / ranks * bytes;
  console.log(
    `estimate, ATST-small on ${ranks} ranks at batch 256 each: ${mb(bytes)} MiB of gradients ` +
      `per step, ${mb(wire)} MiB on the wire per rank (ring); under 10 % of a ${stepS} s step ` +
      `needs ${(wire / (0.1 * stepS) / 1e9 * 8).toFixed(1)} Gbit/s per rank`,
  );
}
