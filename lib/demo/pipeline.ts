/**
 * The demo pipeline, stage by stage, driving the real CLI (`atst featurize`,
 * `pretrain`, `embed`, `probe` as subprocesses, so the demo shows the
 * commands a user would type) plus the few things no command does: picking
 * the data, the random-weights encoder, the log-mel baseline and the plots.
 *
 * Layout of the output folder:
 * ```
 * data/labeled/<lang>/<file>.wav    the labeled clips (copied)
 * data/unlabeled/<lang>-<file>.wav  the pre-training clips (labels unused)
 * data/labels.csv                   path,label,fold
 * features/                         `atst featurize` on a few clips
 * pretrain/                         the run: log.jsonl, encoder.safetensors
 * random/encoder.safetensors        the same encoder at its initial weights
 * embeddings/{baseline,random,pretrained}/<lang>/<file>.npy
 * probe/{baseline,random,pretrained}.json
 * loss.png, pca_{baseline,random,pretrained}.png, report.json
 * ```
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { decodeNpy, writeNpy } from "../io/npy.ts";
import type { EncoderSize } from "../model/config.ts";
import { readLabeledSet } from "../probe/labeled_set.ts";
import { readEmbeddings } from "../probe/embeddings.ts";
import { BASELINE_DIM, baselineFeatures } from "./baseline.ts";
import {
  assignFolds,
  DEFAULT_DATA_ROOT,
  ensureDemoData,
  findDemoData,
  labeledCsv,
  pickBalanced,
} from "./data.ts";
import { lossFigure, pcaFigure, readLoss } from "./figures.ts";
import { encodePng } from "./png.ts";
import { atst, copyClips, flags, prepareOut } from "./_run.ts";
import { saveInitialEncoder } from "./random_init.ts";
import { type DemoReport, meanStd, type MethodResult, type StageRecord } from "./report.ts";

/** Sizes and budgets of one demo run. */
export interface DemoConfig {
  out: string;
  dataRoot: string;
  labeledPerClass: number;
  folds: number;
  unlabeledPerClass: number;
  size: EncoderSize;
  steps: number;
  batch: number;
  cropSeconds: number;
  /** Peak learning rate of pre-training. */
  lr: number;
  /** Starting EMA momentum of the teacher (rises to 1). */
  ema: number;
  probeEpochs: number;
  /** How many clips `atst featurize` shows its output for. */
  featurizeFiles: number;
  seed: number;
  backend: string;
  quick: boolean;
  /** Install the Debian data packages when missing (as root with apt-get). */
  installData: boolean;
}

/** The default run: about 10 minutes on 2 CPU cores (see README). */
export const DEFAULT_CONFIG: Omit<DemoConfig, "out"> = {
  dataRoot: DEFAULT_DATA_ROOT,
  installData: true,
  labeledPerClass: 40,
  folds: 5,
  unlabeledPerClass: 120,
  size: "tiny",
  steps: 150,
  batch: 16,
  cropSeconds: 2,
  // A run of a few minutes needs a larger step than the recipe's 5e-4 * batch / 256
  // and a teacher that follows the student faster than EMA 0.99.
  lr: 2e-4,
  ema: 0.95,
  probeEpochs: 100,
  featurizeFiles: 3,
  // Not 0: tfjs treats a random seed of 0 as "no seed", which would make the
  // first weight tensor of the random-init encoder differ from pre-training's start.
  seed: 1,
  backend: "auto",
  quick: false,
};

/** `--quick`: every stage runs and writes its files, on tiny sizes (for the test). */
export const QUICK_CONFIG: Omit<DemoConfig, "out"> = {
  ...DEFAULT_CONFIG,
  labeledPerClass: 6,
  folds: 3,
  unlabeledPerClass: 4,
  steps: 2,
  batch: 4,
  cropSeconds: 1,
  probeEpochs: 10,
  featurizeFiles: 2,
  quick: true,
};

const METHODS: { key: MethodResult["key"]; name: string }[] = [
  { key: "baseline", name: "(a) log-mel mean+std" },
  { key: "random", name: "(b) encoder, random weights" },
  { key: "pretrained", name: "(c) encoder, pre-trained" },
];

/**
 * Runs every stage and returns the report (also written to
 * `<out>/report.json`). `say` gets one line per stage.
 */
export async function runDemo(cfg: DemoConfig, say: (line: string) => void): Promise<DemoReport> {
  const t0 = performance.now();
  const out = cfg.out;
  await prepareOut(out);
  const rel = (p: string) => relative(out, p) || ".";
  const stages: StageRecord[] = [];
  const stage = async <T>(
    name: string,
    fn: () => Promise<{ value: T; outputs: string[]; command?: string }>,
  ) => {
    say(`demo: ${name} ...`);
    const t = performance.now();
    const r = await fn();
    const seconds = (performance.now() - t) / 1000;
    stages.push({ name, seconds, command: r.command, outputs: r.outputs.map(rel) });
    say(`demo: ${name} done in ${seconds.toFixed(1)} s${r.command ? `: ${r.command}` : ""}`);
    return r.value;
  };
  const common = ["--backend", cfg.backend, "--quiet"];
  // How a user would type the command from the current folder.
  const shell = (args: string[]) =>
    "atst " + args.map((a) => (a.startsWith(out) ? relative(Deno.cwd(), a) || "." : a)).join(" ");

  // Data: a balanced labeled set with folds, and a larger unlabeled pool for pre-training.
  const data = await stage("data", async () => {
    if (cfg.installData) await ensureDemoData(cfg.dataRoot);
    const byLabel = await findDemoData(cfg.dataRoot);
    const labeled = assignFolds(
      pickBalanced(byLabel, cfg.labeledPerClass, cfg.seed),
      cfg.folds,
      cfg.seed,
    );
    const pool = pickBalanced(byLabel, Math.max(cfg.unlabeledPerClass, 1), cfg.seed);
    const dir = join(out, "data");
    const labeledPaths = await copyClips(
      labeled,
      join(dir, "labeled"),
      (c) => join(c.label, basename(c.path)),
    );
    const unlabeledDir = join(dir, "unlabeled");
    await copyClips(pool, unlabeledDir, (c) => `${c.label}-${basename(c.path)}`);
    const csv = join(dir, "labels.csv");
    const rows = labeled.map((c, i) => ({ ...c, path: relative(dir, labeledPaths[i]!) }));
    await writeFileAtomic(csv, labeledCsv(rows));
    return {
      value: {
        csv,
        labeledDir: join(dir, "labeled"),
        labeledPaths,
        labels: labeled.map((c) => c.label),
        unlabeledDir,
        classes: [...byLabel.keys()].sort(),
        pool,
      },
      outputs: [csv, join(dir, "labeled"), unlabeledDir],
    };
  });

  // Featurize a few clips (one per language, distinct names: outputs are named after the file).
  await stage("featurize", async () => {
    const dir = join(out, "features");
    const files: string[] = [];
    for (const label of data.classes) {
      const p = data.labeledPaths.find((p, i) =>
        data.labels[i] === label && !files.some((f) => basename(f) === basename(p))
      );
      if (p && files.length < cfg.featurizeFiles) files.push(p);
    }
    const args = ["featurize", ...files, "--out", dir, "--quiet"];
    await atst(args);
    for (const f of files) {
      const npy = join(dir, basename(f).replace(/\.wav$/, ".npy"));
      const { shape } = decodeNpy(await Deno.readFile(npy), npy);
      say(`demo:   ${rel(npy)}: [${shape.join(", ")}] log-mel (64 bands x 10 ms frames)`);
    }
    return { value: undefined, outputs: [dir], command: shell(args) };
  });

  // Pre-train on the unlabeled pool.
  const runDir = join(out, "pretrain");
  const pretrainEncoder = await stage("pretrain", async () => {
    const args = [
      "pretrain",
      ...flags({
        data: data.unlabeledDir,
        run: runDir,
        size: cfg.size,
        steps: cfg.steps,
        batch: cfg.batch,
        "crop-seconds": cfg.cropSeconds,
        lr: cfg.lr,
        ema: cfg.ema,
        seed: cfg.seed,
        backend: cfg.backend,
      }),
    ];
    if (cfg.quick) {
      args.push("--head-hidden", "64", "--head-dim", "32", "--mixup-memory", "16", "--quiet");
    }
    // Minutes long: let its progress lines through.
    await atst(args, { live: !cfg.quick });
    const encoder = join(runDir, "encoder.safetensors");
    return {
      value: encoder,
      outputs: [encoder, join(runDir, "log.jsonl")],
      command: shell(args),
    };
  });

  // The same encoder at the weights pre-training started from (same seed).
  const randomEncoder = await stage("random-init", async () => {
    const path = join(out, "random", "encoder.safetensors");
    await saveInitialEncoder(path, cfg);
    return { value: path, outputs: [path] };
  });

  // Embeddings: baseline in-process, encoders through `atst embed`.
  const embDir = (key: string) => join(out, "embeddings", key);
  await stage("baseline", async () => {
    const vecs = await baselineFeatures(data.labeledPaths);
    for (const [i, p] of data.labeledPaths.entries()) {
      const name = relative(data.labeledDir, p).replace(/\.wav$/, ".npy");
      await writeNpy(join(embDir("baseline"), name), {
        shape: [BASELINE_DIM],
        data: vecs.slice(i * BASELINE_DIM, (i + 1) * BASELINE_DIM),
      });
    }
    return { value: undefined, outputs: [embDir("baseline")] };
  });
  for (
    const [key, model] of [["random", randomEncoder], ["pretrained", pretrainEncoder]] as const
  ) {
    await stage(`embed-${key}`, async () => {
      const args = ["embed", data.labeledDir, "--model", model, "--out", embDir(key), ...common];
      await atst(args);
      return {
        value: undefined,
        outputs: [embDir(key)],
        command: shell(args),
      };
    });
  }

  // Probe each with folds.
  const results: MethodResult[] = [];
  for (const m of METHODS) {
    const r = await stage(`probe-${m.key}`, async () => {
      const report = join(out, "probe", `${m.key}.json`);
      const args = [
        "probe",
        data.csv,
        "--embeddings",
        embDir(m.key),
        "--epochs",
        String(cfg.probeEpochs),
        "--seed",
        String(cfg.seed),
        "--report",
        report,
        ...common,
      ];
      await atst(args);
      const json = JSON.parse(await Deno.readTextFile(report)) as {
        embeddings: { dim: number };
        folds: { test: { accuracy: number } }[];
      };
      const folds = json.folds.map((f) => f.test.accuracy);
      return {
        value: { ...m, dim: json.embeddings.dim, folds, ...meanStd(folds) },
        outputs: [report],
        command: shell(args),
      };
    });
    results.push(r);
  }

  // Plots: the loss curve and a PCA of each kind of embedding.
  const plots = await stage("plots", async () => {
    const { steps, loss } = await readLoss(runDir);
    const lossPng = join(out, "loss.png");
    const title = `Pre-training loss (${cfg.size}, ${cfg.steps} steps)`;
    await writeFileAtomic(lossPng, encodePng(lossFigure(steps, loss, title)));
    const set = await readLabeledSet(data.csv);
    const pcaPngs: string[] = [];
    for (const m of METHODS) {
      const t = await readEmbeddings(embDir(m.key), set.items);
      const rows = Array.from({ length: t.n }, (_, i) => t.x.subarray(i * t.dim, (i + 1) * t.dim));
      const labels = set.items.map((it) => it.labels[0]!);
      const png = join(out, `pca_${m.key}.png`);
      const fig = pcaFigure(rows, labels, `${m.name}: PCA (standardised)`);
      await writeFileAtomic(png, encodePng(fig));
      pcaPngs.push(png);
    }
    return {
      value: { loss: rel(lossPng), pca: pcaPngs.map(rel), first: loss[0]!, last: loss.at(-1)! },
      outputs: [lossPng, ...pcaPngs],
    };
  });

  const pretrainStage = stages.find((s) => s.name === "pretrain")!;
  const report: DemoReport = {
    version: 1,
    command: `deno task demo ${cfg.quick ? "--quick " : ""}--out ${out}`,
    quick: cfg.quick,
    data: {
      root: cfg.dataRoot,
      classes: data.classes,
      labeledPerClass: cfg.labeledPerClass,
      folds: cfg.folds,
      unlabeled: data.pool.length,
    },
    pretrain: {
      size: cfg.size,
      steps: cfg.steps,
      seconds: pretrainStage.seconds,
      firstLoss: plots.first,
      lastLoss: plots.last,
    },
    stages,
    results,
    plots: { loss: plots.loss, pca: plots.pca },
    totalSeconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(join(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}
