import assert from "node:assert/strict";
import { join } from "node:path";
import { readSafetensors } from "../lib/model/safetensors.ts";
import { mixSeed, Rng } from "../lib/rng.ts";
import { blockMask, FRAME_MASK } from "../lib/train/frame_masks.ts";
import { STREAM } from "../lib/train/step_views.ts";
import { maxAbsDiff, ROOT } from "./_helpers.ts";
import { HAVE_MPI, mpirun, rankPids } from "./_mpi.ts";
import { readRunLog, writeTrainList } from "./_pretrain_runs.ts";

const dec = new TextDecoder();
const ignore = !HAVE_MPI;
if (ignore) {
  console.error("distributed_pretrain_test: mpirun or libmpi.so.40 missing (openmpi-bin)");
}

/**
 * A tiny run (2 blocks, so drop path draws; 0.3 s crops) at a learning rate that moves the
 * weights. ATST-Frame: 0.5 s crops (12 tokens, so each clip masks 2 or 3 spans and the ranks'
 * masked-token counts differ).
 */
const FAMILY_FLAGS = {
  clip: {},
  frame: { family: "frame", "crop-seconds": "0.5" },
} as const;

function runFlags(list: string, runDir: string, over: Record<string, string> = {}): string[] {
  const f: Record<string, string> = {
    data: `@${list}`,
    run: runDir,
    size: "tiny",
    depth: "2",
    steps: "6",
    batch: "4",
    "crop-seconds": "0.3",
    lr: "5e-3",
    warmup: "1",
    seed: "5",
    "save-every": "2",
    keep: "3",
    backend: "cpu",
    "head-hidden": "32",
    "head-dim": "16",
    "mixup-memory": "8",
    ...over,
  };
  return [
    "run",
    "-A",
    `${ROOT}main.ts`,
    "pretrain",
    ...Object.entries(f).flatMap(([k, v]) => [`--${k}`, v]),
    "--quiet",
  ];
}

async function output(cmd: Deno.Command): Promise<{ code: number; stderr: string }> {
  const out = await cmd.output();
  return { code: out.code, stderr: dec.decode(out.stderr) };
}

function oneProcess(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

function tensors(path: string, prefix = ""): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of readSafetensors(Deno.readFileSync(path)).tensors) {
    if (k.startsWith(prefix)) out.set(k, t.data);
  }
  return out;
}

/** The largest elementwise difference over the tensors two files share. */
function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  return Math.max(...[...a].map(([k, v]) => maxAbsDiff(v, b.get(k)!)));
}

for (const family of ["clip", "frame"] as const) {
  const name = family === "clip" ? "ATST-Clip" : "ATST-Frame";
  Deno.test({
    name:
      `two ranks under mpirun train the ${name} model one process trains, and survive a SIGKILL`,
    ignore,
    fn: (t) => soloPairKill(t, FAMILY_FLAGS[family]),
  });
}

Deno.test("in the 2-rank ATST-Frame run the ranks mask different numbers of tokens, so its losses check the weighting", () => {
  // The run's masks: seed 5, 12 tokens, batch 4 (rank 0 samples 0-1, rank 1 samples 2-3).
  const counts = Array.from({ length: 6 }, (_, step) =>
    [0, 2].map((first) => {
      let n = 0;
      for (const b of [first, first + 1]) {
        n += blockMask(12, FRAME_MASK, Rng.fromState(mixSeed(5, STREAM.masks, step, b)))
          .reduce((a, v) => a + v, 0);
      }
      return n;
    }));
  assert.ok(counts.filter(([r0, r1]) => r0 !== r1).length >= 2, JSON.stringify(counts));
});

/** One process, two ranks, two ranks killed and resumed: the same run of `family` flags. */
async function soloPairKill(t: Deno.TestContext, family: Record<string, string>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "atst_mpi_" });
  try {
    const list = await writeTrainList(dir);
    const flags = (l: string, run: string) => runFlags(l, run, family);
    const solo = join(dir, "solo"), pair = join(dir, "pair"), killed = join(dir, "killed");
    await t.step("one process with batch 4", async () => {
      const r = await output(oneProcess(flags(list, solo)));
      assert.equal(r.code, 0, r.stderr);
    });
    await t.step("two ranks with global batch 4 log the same losses (within 1e-4)", async () => {
      const r = await output(mpirun([flags(list, pair), flags(list, pair)]));
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /4 clips decoded into .*, 1 skipped; 2 ranks, 2 clips each per step/,
      );
      assert.equal(
        r.stderr.match(/skipping '.*text.wav'/g)?.length,
        1,
        "one warning, from rank 0",
      );
      const a = await readRunLog(join(solo, "log.jsonl")),
        b = await readRunLog(join(pair, "log.jsonl"));
      assert.deepEqual(b.map((l) => l.step), [1, 2, 3, 4, 5, 6], "one line per step");
      let worst = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]!.loss - b[i]!.loss);
        worst = Math.max(worst, d);
        assert.ok(d < 1e-4, `step ${i + 1}: loss ${b[i]!.loss} vs ${a[i]!.loss}`);
        assert.ok(Math.abs(a[i]!.std_student - b[i]!.std_student) < 1e-4, "std_student");
        assert.ok(Math.abs(a[i]!.std_teacher - b[i]!.std_teacher) < 1e-4, "std_teacher");
      }
      assert.ok(a[0]!.loss - a.at(-1)!.loss > 1e-2, "the loss moved");
      console.error(`2 ranks vs 1 process: loss ${worst} at most`);
    });
    await t.step("the weights agree within 1e-4, far closer than they moved", () => {
      // Ranks add their gradients in another order than one process: rounding differences
      // (1e-7 relative) that Adam's g / (|g| + eps) can raise to ~1e-6 of a weight in 6 steps.
      const enc = maxDiff(
        tensors(join(solo, "encoder.safetensors")),
        tensors(join(pair, "encoder.safetensors")),
      );
      assert.ok(enc < 1e-4, `teacher encoder: ${enc}`);
      const end = (d: string) => tensors(join(d, "ckpt-00000006.safetensors"), "student/");
      const student = maxDiff(end(solo), end(pair));
      const moved = maxDiff(
        end(pair),
        tensors(join(pair, "ckpt-00000002.safetensors"), "student/"),
      );
      assert.ok(student < 1e-4, `student: ${student}`);
      assert.ok(moved > 100 * student && moved > 1e-3, `moved ${moved}, ranks differ ${student}`);
      console.error(
        `2 ranks vs 1 process: teacher encoder ${enc}, student ${student}, moved ${moved}`,
      );
    });
    await t.step("rank 0 alone wrote the run directory, and left nothing behind", async () => {
      const names = [...Deno.readDirSync(pair)].map((e) => e.name).sort();
      assert.deepEqual(names, [
        "cache",
        "ckpt-00000002.safetensors",
        "ckpt-00000004.safetensors",
        "ckpt-00000006.safetensors",
        "config.json",
        "encoder.safetensors",
        "log.jsonl",
      ]);
      const cache = [...Deno.readDirSync(join(pair, "cache"))].map((e) => e.name).sort();
      assert.deepEqual(cache, [
        "index.json",
        "shard-000000.f32",
        "shard-000001.f32",
        "shard-000002.f32",
        "shard-000003.f32",
      ]);
      assert.equal(
        await Deno.readTextFile(join(pair, "cache", "index.json")),
        await Deno.readTextFile(join(solo, "cache", "index.json")),
        "the parallel build indexes what one process does",
      );
    });
    let killedAt = 0;
    await t.step("SIGKILL of rank 1 ends the job within seconds, non-zero", async () => {
      const child = mpirun([flags(list, killed), flags(list, killed)]).spawn();
      const deadline = Date.now() + 120_000;
      while (
        Date.now() < deadline &&
        !(await readRunLog(join(killed, "log.jsonl"))).some((l) => l.step >= 3)
      ) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const pids = rankPids(child.pid);
      assert.ok(pids.has(1), `rank pids ${[...pids]}`);
      const t0 = Date.now();
      Deno.kill(pids.get(1)!, "SIGKILL");
      const status = await child.status;
      const seconds = (Date.now() - t0) / 1000;
      await child.stdout.cancel();
      await child.stderr.cancel();
      assert.notEqual(status.code, 0);
      assert.ok(seconds < 10, `job ended ${seconds} s after the kill`);
      killedAt = (await readRunLog(join(killed, "log.jsonl"))).at(-1)?.step ?? 0;
      assert.ok(killedAt >= 3 && killedAt < 6, `killed after step ${killedAt}`);
      assert.equal(await Deno.stat(join(killed, "encoder.safetensors")).catch(() => null), null);
      for (const e of Deno.readDirSync(killed)) {
        if (e.name.startsWith("ckpt-")) readSafetensors(Deno.readFileSync(join(killed, e.name)));
      }
    });
    await t.step(
      "rerunning the same command resumes and ends as the uninterrupted run, bit for bit",
      async () => {
        const r = await output(mpirun([flags(list, killed), flags(list, killed)]));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /resuming .* from step [24] of 6/);
        assert.equal(
          maxDiff(
            tensors(join(pair, "encoder.safetensors")),
            tensors(join(killed, "encoder.safetensors")),
          ),
          0,
        );
        assert.equal(
          maxDiff(
            tensors(join(pair, "ckpt-00000006.safetensors")),
            tensors(join(killed, "ckpt-00000006.safetensors")),
          ),
          0,
        );
        assert.deepEqual(
          (await readRunLog(join(killed, "log.jsonl"))).map((l) => l.loss),
          (await readRunLog(join(pair, "log.jsonl"))).map((l) => l.loss),
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "ranks started with different --batch, or a batch they do not divide, stop with one line",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "atst_mpi_flags_" });
    try {
      const list = await writeTrainList(dir);
      const run = join(dir, "run");
      await t.step("--batch 4 on rank 0 and --batch 2 on rank 1", async () => {
        const r = await output(
          mpirun([
            runFlags(list, run, { lr: "1e-3" }),
            runFlags(list, run, { lr: "1e-3", batch: "2" }),
          ]),
        );
        assert.equal(r.code, 2, r.stderr);
        assert.equal(
          r.stderr.trim(),
          "atst: The 2 ranks were started with different --batch; start every rank with the same flags",
        );
        assert.equal(await Deno.stat(run).catch(() => null), null, "nothing written");
      });
      await t.step("--batch 3 on 2 ranks", async () => {
        const r = await output(
          mpirun([runFlags(list, run, { batch: "3" }), runFlags(list, run, { batch: "3" })]),
        );
        assert.equal(r.code, 2, r.stderr);
        assert.equal(
          r.stderr.trim(),
          "atst: --batch 3 is the global batch and must be a multiple of the 2 ranks; use --batch 4",
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
