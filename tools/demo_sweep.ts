/**
 * The measurement behind the demo's pre-training setting: for a few
 * learning rates, EMA momenta, step counts and crop lengths, pre-trains the
 * demo's encoder with several seeds and probes it against its own random
 * start (same seed, same crop, so the same weights and chunking) and the
 * log-mel baseline, on the demo's labeled set and folds. Prints one table
 * row per setting and writes `<out>/sweep.json` after each setting.
 *
 * Usage: deno run -A tools/demo_sweep.ts [--out DIR] [--seeds N] [--only NAME,NAME] [--list]
 *        [--runs DIR] [--per-class N] [--folds K]
 *
 * `--runs DIR` keeps the pre-training runs outside `--out` and reuses a
 * finished one (same setting and seed), so the same encoders can be probed
 * again on another labeled set (`--per-class`, `--folds`) without training.
 *
 * Each seed of a setting costs what one pre-training of the demo costs
 * (about a minute per 150 steps of 16 two-second clips on 2 cores), so the
 * default grid takes the better part of an hour. The demo's setting came from
 *
 *   deno run -A tools/demo_sweep.ts --out /tmp/sw1 --per-class 40
 *   deno run -A tools/demo_sweep.ts --out /tmp/sw2 --runs /tmp/sw1/runs --per-class 100
 *
 * (the second probes the same encoders on 100 labeled clips per language);
 * the tables are in the README's demo section.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { choice, list, num, parseFlags, str } from "../lib/cli/args.ts";
import { exitWith, UserError } from "../lib/errors.ts";
import { BACKENDS } from "../lib/backend/backend.ts";
import { defaultTrainConfig } from "../lib/train/config.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { readRunLog } from "../lib/demo/figures.ts";
import { DEFAULT_CONFIG, seedList } from "../lib/demo/pipeline.ts";
import { saveInitialEncoder } from "../lib/demo/random_init.ts";
import { meanStd } from "../lib/demo/report.ts";
import { atst, prepareOut } from "../lib/demo/_run.ts";
import {
  type DemoData,
  embedArgs,
  prepareData,
  pretrainArgs,
  type PretrainSetting,
  probeArgs,
  readProbeAccuracy,
  writeBaselineEmbeddings,
} from "../lib/demo/steps.ts";

const D = DEFAULT_CONFIG;
/** The recipe's rule (5e-4 per 256 clips, defaultTrainConfig) at the demo's batch. */
const RECIPE_LR = defaultTrainConfig({ batch: D.batch }).lr;

type Setting = Omit<PretrainSetting, "size" | "batch" | "backend" | "quick"> & { name: string };

/** The grid, cheapest question first: does the recipe's rate learn anything at this scale? */
const GRID: Setting[] = [
  { name: "recipe", lr: RECIPE_LR, ema: 0.99, steps: 150, cropSeconds: 2 },
  // The demo's setting before this sweep.
  { name: "lr2e-4-ema.95", lr: 2e-4, ema: 0.95, steps: 150, cropSeconds: 2 },
  // The demo's setting after it (DEFAULT_CONFIG).
  { name: "10x", lr: 10 * RECIPE_LR, ema: 0.99, steps: 150, cropSeconds: 2 },
  { name: "10x-ema.95", lr: 10 * RECIPE_LR, ema: 0.95, steps: 150, cropSeconds: 2 },
  { name: "20x-ema.95", lr: 20 * RECIPE_LR, ema: 0.95, steps: 150, cropSeconds: 2 },
  { name: "10x-crop1-300", lr: 10 * RECIPE_LR, ema: 0.99, steps: 300, cropSeconds: 1 },
];

interface SeedRow {
  seed: number;
  random: number;
  pretrained: number;
  baseline: number;
  seconds: number;
  lastLoss: number;
  lastStdStudent: number;
}

async function probeMean(
  data: DemoData,
  embeddings: string,
  report: string,
  seed: number,
): Promise<number> {
  await atst(probeArgs(data.csv, embeddings, {
    report,
    epochs: D.probeEpochs,
    seed,
    backend: D.backend,
  }));
  return meanStd((await readProbeAccuracy(report)).folds).mean;
}

const pct = (x: number) => (100 * x).toFixed(1);
const pm = (xs: number[]) => {
  const { mean, std } = meanStd(xs);
  return `${pct(mean)} ± ${pct(std)}`;
};

function row(s: Setting, rows: SeedRow[]): string {
  const gain = rows.map((r) => r.pretrained - r.random);
  const wins = gain.filter((g) => g > 0).length;
  return [
    s.name,
    s.lr.toExponential(2),
    String(s.ema),
    String(s.steps),
    String(s.cropSeconds),
    meanStd(rows.map((r) => r.seconds)).mean.toFixed(0),
    pm(rows.map((r) => r.random)),
    pm(rows.map((r) => r.pretrained)),
    gain.map((g) => (g >= 0 ? "+" : "") + pct(g)).join(" "),
    `${wins}/${rows.length}`,
    meanStd(rows.map((r) => r.lastStdStudent)).mean.toFixed(3),
  ].join(" | ");
}

const HEAD = "setting | lr | ema | steps | crop s | train s | random % | pre-trained % | " +
  "gain per seed (points) | wins | final std_student";

/** Runs the sweep with command-line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseFlags(args, {
    out: { type: "string" },
    seeds: { type: "string" },
    only: { type: "string", multiple: true },
    list: { type: "boolean" },
    backend: { type: "string" },
    runs: { type: "string" },
    "per-class": { type: "string" },
    folds: { type: "string" },
  });
  if (help) {
    console.log(
      "Usage: deno run -A tools/demo_sweep.ts [--out DIR] [--seeds N] [--only NAME,...] [--list]\n" +
        "       [--runs DIR] [--per-class N] [--folds K]",
    );
    return 0;
  }
  if (values.list === true) {
    for (const s of GRID) console.log(`${s.name}: ${JSON.stringify(s)}`);
    return 0;
  }
  const only = list(values, "only").flatMap((x) => x.split(","));
  const unknown = only.filter((n) => !GRID.some((s) => s.name === n));
  if (unknown.length) throw new UserError(`Unknown setting '${unknown[0]}' (see --list)`);
  // In the order asked for, so the most telling settings can run first.
  const grid = only.length ? only.map((n) => GRID.find((s) => s.name === n)!) : GRID;
  const seeds = seedList({
    seed: D.seed,
    seeds: num(values, "seeds", 3, { min: 1, integer: true }),
  });
  const backend = choice(values, "backend", BACKENDS, "auto");
  const out = resolve(str(values, "out", "demo-sweep"));
  const runsDir = resolve(str(values, "runs", join(out, "runs")));
  const sizes = {
    labeledPerClass: num(values, "per-class", D.labeledPerClass, { min: 2, integer: true }),
    folds: num(values, "folds", D.folds, { min: 3, integer: true }),
  };
  await prepareOut(out);
  // The pre-training pool depends only on the seed and its size, not on the labeled set.
  const data = await prepareData(join(out, "data"), { ...D, ...sizes });

  const embDir = (...parts: string[]) => join(out, "embeddings", ...parts);
  await writeBaselineEmbeddings(data, embDir("baseline"));
  const baseline = new Map<number, number>();
  for (const seed of seeds) {
    baseline.set(
      seed,
      await probeMean(data, embDir("baseline"), join(out, "probe", `baseline-${seed}.json`), seed),
    );
  }
  // The random start depends on the seed and on the crop (embed chunks by the training crop).
  const random = new Map<string, number>();
  const randomAcc = async (seed: number, crop: number) => {
    const key = `${seed}-crop${crop}`;
    if (!random.has(key)) {
      const model = join(out, "random", key, "encoder.safetensors");
      await saveInitialEncoder(model, { size: D.size, seed, cropSeconds: crop });
      await atst(embedArgs(data.labeledDir, model, { out: embDir("random", key), backend }));
      const report = join(out, "probe", `random-${key}.json`);
      random.set(key, await probeMean(data, embDir("random", key), report, seed));
    }
    return random.get(key)!;
  };

  const results: { setting: Setting; seeds: SeedRow[] }[] = [];
  for (const s of grid) {
    const rows: SeedRow[] = [];
    for (const seed of seeds) {
      const run = join(runsDir, s.name, `seed-${seed}`);
      const setting = { ...s, size: D.size, batch: D.batch, backend, quick: false, seed };
      const done = await readRunLog(run).then((l) => l.steps.length === s.steps, () => false);
      if (!done) await atst([...pretrainArgs(data.unlabeledDir, run, setting), "--quiet"]);
      const log = await readRunLog(run);
      const seconds = log.seconds.reduce((a, b) => a + b, 0);
      const emb = embDir("pretrained", s.name, `seed-${seed}`);
      await atst(
        embedArgs(data.labeledDir, join(run, "encoder.safetensors"), { out: emb, backend }),
      );
      const report = join(out, "probe", `${s.name}-${seed}.json`);
      const r: SeedRow = {
        seed,
        random: await randomAcc(seed, s.cropSeconds),
        pretrained: await probeMean(data, emb, report, seed),
        baseline: baseline.get(seed)!,
        seconds,
        lastLoss: log.loss.at(-1)!,
        lastStdStudent: log.stdStudent.at(-1)!,
      };
      rows.push(r);
      console.error(
        `sweep: ${s.name} seed ${seed}: random ${pct(r.random)} %, pre-trained ` +
          `${pct(r.pretrained)} %, ${seconds.toFixed(0)} s, final loss ${r.lastLoss.toFixed(3)}`,
      );
    }
    results.push({ setting: s, seeds: rows });
    await writeFileAtomic(
      join(out, "sweep.json"),
      JSON.stringify({ seeds, baseline: [...baseline.values()], results }, null, 2) + "\n",
    );
  }
  console.log(
    `Demo sweep: ${data.classes.length}-way language id, ${sizes.labeledPerClass} clips per ` +
      `language, ${sizes.folds} folds, ${data.unlabeled} unlabeled clips, ${D.size} encoder, ` +
      `batch ${D.batch}, seeds ${seeds.join(", ")} (mean ± std over seeds of the fold mean)`,
  );
  console.log(`log-mel baseline: ${pm([...baseline.values()])} %\n`);
  console.log(HEAD);
  for (const r of results) console.log(row(r.setting, r.seeds));
  return 0;
}

if (import.meta.main) await exitWith("demo_sweep", () => main(Deno.args));
