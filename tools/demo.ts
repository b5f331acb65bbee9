/**
 * `deno task demo`: what `atst` is for, end to end, in about ten minutes on
 * two CPU cores. Picks a balanced labeled set of spoken-language clips (the
 * Asterisk voice prompts Debian packages; see docs/DATA.md), featurizes a
 * few, pre-trains a tiny encoder on unlabeled clips, embeds the labeled set
 * with the encoder at its random initial weights and after pre-training,
 * probes those and a log-mel mean+std baseline with folds, prints the table
 * and writes plots.
 *
 * Usage: deno run -A tools/demo.ts [--out DIR] [--steps N] [--quick] ...
 *
 * @module
 */
import { resolve } from "node:path";
import { choice, num, parseFlags, str } from "../lib/cli/args.ts";
import { exitCodeOf, isUserFacing, UserError } from "../lib/errors.ts";
import { APT_COMMAND } from "../lib/demo/data.ts";
import { DEFAULT_CONFIG, type DemoConfig, QUICK_CONFIG, runDemo } from "../lib/demo/pipeline.ts";
import { formatTable } from "../lib/demo/report.ts";

const D = DEFAULT_CONFIG, Q = QUICK_CONFIG;
const HELP = `deno task demo: atst end to end on real recordings (5-way spoken language id)

Usage: deno task demo [--out DIR] [--steps N] [--quick] [flags]

Needs the Debian packages of the Asterisk voice prompts (CC-BY-SA 3.0 / CC-BY 3.0):
  ${APT_COMMAND}

Stages: pick clips -> atst featurize (a few clips) -> atst pretrain (tiny
encoder, unlabeled clips) -> random-weights encoder -> atst embed (random and
pre-trained) and log-mel mean+std baseline -> atst probe (folds) each ->
table on stdout, loss and PCA plots (PNG) and report.json in --out.

Flags (default; --quick):
  --out DIR            output folder (demo-out)
  --steps N            pre-training steps (${D.steps}; ${Q.steps})
  --batch B            pre-training clips per step (${D.batch}; ${Q.batch})
  --crop-seconds S     pre-training crop (${D.cropSeconds}; ${Q.cropSeconds})
  --lr X               pre-training peak learning rate (${D.lr})
  --ema M              teacher's starting EMA momentum (${D.ema})
  --per-class N        labeled clips per language (${D.labeledPerClass}; ${Q.labeledPerClass})
  --folds K            probe folds (${D.folds}; ${Q.folds})
  --unlabeled N        pre-training clips per language (${D.unlabeledPerClass}; ${Q.unlabeledPerClass})
  --probe-epochs N     probe epochs (${D.probeEpochs}; ${Q.probeEpochs})
  --size S             tiny|small|base encoder (${D.size})
  --data DIR           where the voice folders are (${D.dataRoot})
  --seed N             seed (1 or more) of the subset, folds, weights and training (${D.seed})
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
  const cfg: DemoConfig = {
    ...base,
    out: resolve(str(values, "out", "demo-out")),
    steps: int("steps", base.steps, 1),
    batch: int("batch", base.batch, 2),
    cropSeconds: num(values, "crop-seconds", base.cropSeconds, { min: 0.1, max: 10 }),
    lr: num(values, "lr", base.lr, { min: 0 }),
    ema: num(values, "ema", base.ema, { min: 0, max: 1 }),
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
  console.log(
    `\nLinear probe, ${report.data.classes.length}-way spoken language id ` +
      `(${report.data.classes.join(", ")}), ${cfg.labeledPerClass} clips per language, ` +
      `${cfg.folds} folds; encoder ${cfg.size} pre-trained ${cfg.steps} steps ` +
      `(${report.pretrain.seconds.toFixed(0)} s) on ${report.data.unlabeled} unlabeled clips:\n`,
  );
  console.log(formatTable(report.results, report.data.classes.length));
  console.log(
    `\nPre-training loss: ${report.pretrain.firstLoss.toFixed(4)} -> ${
      report.pretrain.lastLoss.toFixed(4)
    }`,
  );
  console.log(`Loss curve: ${resolve(cfg.out, report.plots.loss)}`);
  for (const p of report.plots.pca) console.log(`PCA plot:   ${resolve(cfg.out, p)}`);
  console.log(`Report:     ${resolve(cfg.out, "report.json")}`);
  console.log(`Total time: ${report.totalSeconds.toFixed(0)} s`);
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (err) {
    if (isUserFacing(err)) console.error(`demo: ${err.message}`);
    else console.error("demo: internal error:", err);
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}
