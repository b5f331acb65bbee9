/**
 * `deno task demo`: what `atst` is for, end to end, in about ten minutes on
 * two CPU cores. Picks a balanced labeled set of spoken-language clips (the
 * Asterisk voice prompts Debian packages; see docs/DATA.md), featurizes a
 * few, pre-trains a tiny encoder on unlabeled clips (once per seed), embeds
 * the labeled set with each encoder at its random initial weights and after
 * pre-training, probes those and a log-mel mean+std baseline with folds,
 * prints the table (mean ± std over seeds) and writes plots; then finds
 * where speech starts and stops in long mixtures of the labeled clips
 * (`atst embed --frames`, `atst probe` on a DCASE TSV) and draws it.
 *
 * Usage: deno run -A tools/demo.ts [--out DIR] [--steps N] [--quick] ...
 *
 * @module
 */
import { resolve } from "node:path";
import { choice, num, parseFlags, str } from "../lib/cli/args.ts";
import { exitWith, UserError } from "../lib/errors.ts";
import { APT_COMMAND } from "../lib/demo/data.ts";
import { EVENT_SIZES } from "../lib/demo/events_step.ts";
import {
  DEFAULT_CONFIG,
  type DemoConfig,
  demoLr,
  QUICK_CONFIG,
  runDemo,
} from "../lib/demo/pipeline.ts";
import { formatEventsTable, formatGain, formatTable } from "../lib/demo/report.ts";

const D = DEFAULT_CONFIG, Q = QUICK_CONFIG;
const HELP = `deno task demo: atst end to end on real recordings (5-way spoken language id)

Usage: deno task demo [--out DIR] [--steps N] [--quick] [flags]

Needs the Debian packages of the Asterisk voice prompts (CC-BY-SA 3.0 / CC-BY 3.0):
  ${APT_COMMAND}

Stages: pick clips -> atst featurize (a few clips) -> atst pretrain (tiny
encoder, unlabeled clips; once per seed) -> each run's random-weights start ->
atst embed (random and pre-trained, per seed) and log-mel mean+std baseline ->
atst probe (folds, per seed) each -> table of mean ± std over seeds on stdout,
loss/collapse and PCA plots (PNG) and report.json in --out.
Then event detection: long mixtures of the labeled clips in noise
(${EVENT_SIZES.full.files} of ${EVENT_SIZES.full.seconds} s; --quick: ${EVENT_SIZES.quick.files} of ${EVENT_SIZES.quick.seconds} s) and a DCASE TSV of where speech is ->
atst embed --frames (the first seed's pre-trained encoder) and log-mel frames ->
atst probe TSV (same folds and epochs) -> F1 table and sed.png (true vs predicted).

Flags (default; --quick):
  --out DIR            output folder (demo-out)
  --steps N            pre-training steps (${D.steps}; ${Q.steps})
  --batch B            pre-training clips per step (${D.batch}; ${Q.batch})
  --crop-seconds S     pre-training crop (${D.cropSeconds}; ${Q.cropSeconds})
  --lr X               pre-training peak learning rate (5e-3 * batch / 256 = ${D.lr}:
                       ten times the recipe's 5e-4 * batch / 256, which was tuned for
                       batches of 1536 over 39 000 steps; see tools/demo_sweep.ts)
  --ema M              teacher's starting EMA momentum (${D.ema})
  --seeds N            pre-training runs, random inits and probes, seeds S..S+N-1 (${D.seeds}; ${Q.seeds})
  --per-class N        labeled clips per language (${D.labeledPerClass}; ${Q.labeledPerClass})
  --folds K            probe folds (${D.folds}; ${Q.folds})
  --unlabeled N        pre-training clips per language (${D.unlabeledPerClass}; ${Q.unlabeledPerClass})
  --probe-epochs N     probe epochs (${D.probeEpochs}; ${Q.probeEpochs})
  --size S             tiny|small|base encoder (${D.size})
  --data DIR           where the voice folders are (${D.dataRoot})
  --seed S             first seed (1 or more); it also picks the subset and folds (${D.seed})
  --backend B          passed to every atst command (${D.backend})
  --quick              every stage on tiny sizes (seconds; for the test)
  --no-install         do not apt-get install the data packages when missing
  -h, --help           this text`;

/** Runs the demo with command-line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(args, {
    out: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    "crop-seconds": { type: "string" },
    lr: { type: "string" },
    ema: { type: "string" },
    seeds: { type: "string" },
    "per-class": { type: "string" },
    folds: { type: "string" },
    unlabeled: { type: "string" },
    "probe-epochs": { type: "string" },
    size: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    quick: { type: "boolean" },
    "no-install": { type: "boolean" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) throw new UserError(`Unexpected argument '${positionals[0]}'`);
  const base = values.quick === true ? QUICK_CONFIG : DEFAULT_CONFIG;
  const int = (name: string, fallback: number, min: number) =>
    num(values, name, fallback, { min, integer: true });
  const batch = int("batch", base.batch, 2);
  const cfg: DemoConfig = {
    ...base,
    out: resolve(str(values, "out", "demo-out")),
    steps: int("steps", base.steps, 1),
    batch,
    cropSeconds: num(values, "crop-seconds", base.cropSeconds, { min: 0.1, max: 10 }),
    lr: num(values, "lr", demoLr(batch), { min: 0 }),
    ema: num(values, "ema", base.ema, { min: 0, max: 1 }),
    seeds: int("seeds", base.seeds, 1),
    labeledPerClass: int("per-class", base.labeledPerClass, 2),
    folds: int("folds", base.folds, 3),
    unlabeledPerClass: int("unlabeled", base.unlabeledPerClass, 1),
    probeEpochs: int("probe-epochs", base.probeEpochs, 1),
    size: choice(values, "size", ["tiny", "small", "base"] as const, base.size),
    dataRoot: str(values, "data", base.dataRoot),
    seed: int("seed", base.seed, 1),
    backend: str(values, "backend", base.backend),
    installData: values["no-install"] !== true,
  };
  if (cfg.labeledPerClass < cfg.folds) {
    throw new UserError(
      `--per-class (${cfg.labeledPerClass}) must be at least --folds (${cfg.folds})`,
    );
  }
  const report = await runDemo(cfg, (line) => console.error(line));
  const pre = report.pretrain;
  console.log(
    `\nLinear probe, ${report.data.classes.length}-way spoken language id ` +
      `(${report.data.classes.join(", ")}), ${cfg.labeledPerClass} clips per language, ` +
      `${cfg.folds} folds; encoder ${cfg.size} pre-trained ${cfg.steps} steps of ${cfg.batch} ` +
      `${cfg.cropSeconds} s crops at lr ${cfg.lr} on ${report.data.unlabeled} unlabeled clips, ` +
      `seeds ${report.seeds.join(", ")} (${pre.seconds.toFixed(0)} s of pre-training in all):\n`,
  );
  console.log(formatTable(report.results, report.data.classes.length));
  console.log(`\n${formatGain(report.gain)}`);
  const runs = pre.runs.map((r) =>
    `${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)} (std ${r.lastStdStudent.toFixed(3)})`
  );
  console.log(`Pre-training loss per seed: ${runs.join(", ")}`);
  const ev = report.events;
  console.log(
    `\nWhere speech starts and stops: ${ev.files} mixtures of ${ev.seconds} s ` +
      `(${ev.events} spoken clips in background noise), ${ev.folds} folds, ` +
      `frame probe, % mean ± std over folds:\n`,
  );
  console.log(formatEventsTable(ev));
  console.log("");
  console.log(`Loss curve: ${resolve(cfg.out, report.plots.loss)}`);
  for (const p of report.plots.pca) console.log(`PCA plot:   ${resolve(cfg.out, p)}`);
  console.log(`Speech:     ${resolve(cfg.out, report.plots.sed)}`);
  console.log(`Report:     ${resolve(cfg.out, "report.json")}`);
  console.log(`Total time: ${report.totalSeconds.toFixed(0)} s`);
  return 0;
}

if (import.meta.main) await exitWith("demo", () => main(Deno.args));
