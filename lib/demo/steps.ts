/**
 * The demo's steps that touch data or drive `atst`: copying the labeled and
 * unlabeled clips, and the command lines of one pre-training run, one
 * embedding pass and one probe, with the reader of the probe's report. The
 * demo pipeline and the learning-rate sweep (tools/demo_sweep.ts) both
 * compose them, so the sweep measures exactly what the demo runs.
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { writeNpy } from "../io/npy.ts";
import type { EncoderSize } from "../model/config.ts";
import { BASELINE_DIM, baselineFeatures } from "./baseline.ts";
import { assignFolds, ensureDemoData, findDemoData, labeledCsv, pickBalanced } from "./data.ts";
import { copyClips, flags } from "./_run.ts";

/** The clips of one demo run, copied under its output folder. */
export interface DemoData {
  /** `path,label,fold` CSV of the labeled clips. */
  csv: string;
  labeledDir: string;
  labeledPaths: string[];
  /** Label of each labeled clip, in `labeledPaths` order. */
  labels: string[];
  /** Pre-training clips (labels unused). */
  unlabeledDir: string;
  unlabeled: number;
  classes: string[];
}

/** What picks the clips: sizes and the seed of the subset and folds. */
export interface DataOptions {
  dataRoot: string;
  installData: boolean;
  labeledPerClass: number;
  folds: number;
  unlabeledPerClass: number;
  seed: number;
}

/**
 * Picks a balanced labeled set with stratified folds and a larger unlabeled
 * pool, copies them under `dir` (`labeled/<lang>/`, `unlabeled/<lang>-*`)
 * and writes `labels.csv`. The same seed picks the same clips on any machine.
 *
 * @example
 * ```ts
 * const data = await prepareData("demo-out/data", { ...DEFAULT_CONFIG });
 * ```
 */
export async function prepareData(dir: string, opts: DataOptions): Promise<DemoData> {
  if (opts.installData) await ensureDemoData(opts.dataRoot);
  const byLabel = await findDemoData(opts.dataRoot);
  const labeled = assignFolds(
    pickBalanced(byLabel, opts.labeledPerClass, opts.seed),
    opts.folds,
    opts.seed,
  );
  const pool = pickBalanced(byLabel, Math.max(opts.unlabeledPerClass, 1), opts.seed);
  const labeledDir = join(dir, "labeled");
  const labeledPaths = await copyClips(labeled, labeledDir, (c) => join(c.label, basename(c.path)));
  const unlabeledDir = join(dir, "unlabeled");
  await copyClips(pool, unlabeledDir, (c) => `${c.label}-${basename(c.path)}`);
  const csv = join(dir, "labels.csv");
  const rows = labeled.map((c, i) => ({ ...c, path: relative(dir, labeledPaths[i]!) }));
  await writeFileAtomic(csv, labeledCsv(rows));
  return {
    csv,
    labeledDir,
    labeledPaths,
    labels: labeled.map((c) => c.label),
    unlabeledDir,
    unlabeled: pool.length,
    classes: [...byLabel.keys()].sort(),
  };
}

/**
 * Writes the log-mel mean+std vector of every labeled clip to
 * `dir/<lang>/<file>.npy`, laid out as `atst embed --out` lays out its own.
 */
export async function writeBaselineEmbeddings(data: DemoData, dir: string): Promise<void> {
  const vecs = await baselineFeatures(data.labeledPaths);
  for (const [i, p] of data.labeledPaths.entries()) {
    await writeNpy(join(dir, relative(data.labeledDir, p).replace(/\.wav$/, ".npy")), {
      shape: [BASELINE_DIM],
      data: vecs.slice(i * BASELINE_DIM, (i + 1) * BASELINE_DIM),
    });
  }
}

/** One pre-training setting (everything but the seed). */
export interface PretrainSetting {
  size: EncoderSize;
  steps: number;
  batch: number;
  cropSeconds: number;
  /** Peak learning rate. */
  lr: number;
  /** Starting EMA momentum of the teacher (rises to 1). */
  ema: number;
  backend: string;
  /** Small heads and mixup memory: seconds instead of minutes, for the test. */
  quick: boolean;
}

/** `atst pretrain` on `data` into `run` with `setting` and `seed`. */
export function pretrainArgs(
  data: string,
  run: string,
  opts: PretrainSetting & { seed: number },
): string[] {
  const args = [
    "pretrain",
    ...flags({
      data,
      run,
      size: opts.size,
      steps: opts.steps,
      batch: opts.batch,
      "crop-seconds": opts.cropSeconds,
      lr: opts.lr,
      ema: opts.ema,
      seed: opts.seed,
      backend: opts.backend,
    }),
  ];
  if (opts.quick) {
    args.push("--head-hidden", "64", "--head-dim", "32", "--mixup-memory", "16", "--quiet");
  }
  return args;
}

/** `atst embed` of the labeled clips with `model` into `out` (clip embeddings, .npy). */
export function embedArgs(
  labeledDir: string,
  model: string,
  opts: { out: string; backend: string },
): string[] {
  return [
    "embed",
    labeledDir,
    "--model",
    model,
    "--out",
    opts.out,
    "--backend",
    opts.backend,
    "--quiet",
  ];
}

/** `atst probe` of `embeddings` over the folds of `csv`, writing its JSON report. */
export function probeArgs(
  csv: string,
  embeddings: string,
  opts: { report: string; epochs: number; seed: number; backend: string },
): string[] {
  return [
    "probe",
    csv,
    "--embeddings",
    embeddings,
    ...flags({ epochs: opts.epochs, seed: opts.seed, report: opts.report, backend: opts.backend }),
    "--quiet",
  ];
}

/** Embedding size and test accuracy per fold (fold order) from an `atst probe --report` file. */
export async function readProbeAccuracy(path: string): Promise<{ dim: number; folds: number[] }> {
  const json = JSON.parse(await Deno.readTextFile(path)) as {
    embeddings?: { dim?: number };
    folds?: { test?: { accuracy?: number } }[];
  };
  const dim = json.embeddings?.dim;
  const folds = (json.folds ?? []).map((f) => f.test?.accuracy);
  if (typeof dim !== "number" || !folds.length || folds.some((a) => typeof a !== "number")) {
    throw new Error(`Probe report '${path}' lacks embeddings.dim or a test accuracy per fold`);
  }
  return { dim, folds: folds as number[] };
}
