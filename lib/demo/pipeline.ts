/**
 * The demo pipeline, stage by stage, driving the real CLI (`atst featurize`,
 * `pretrain`, `embed`, `probe` as subprocesses, so the demo shows the
 * commands a user would type) plus the few things no command does: picking
 * the data, the random-weights encoder, the log-mel baseline and the plots.
 *
 * The encoder stages run once per seed (`--seeds N`: seeds S..S+N-1): each
 * seed has its own pre-training run (weights, crops, augmentations) and its
 * own random-weights encoder (the weights that run starts from), and every
 * probe, the baseline's too, uses that seed. The labeled subset, the unlabeled
 * pool and the folds are the first seed's for all, so seeds differ only in
 * what the encoder comparison is about.
 *
 * Layout of the output folder:
 * ```
 * data/labeled/<lang>/<file>.wav    the labeled clips (copied)
 * data/unlabeled/<lang>-<file>.wav  the pre-training clips (labels unused)
 * data/labels.csv                   path,label,fold
 * features/                         `atst featurize` on a few clips
 * pretrain/seed-<s>/                one run per seed: log.jsonl, encoder.safetensors
 * random/seed-<s>/encoder.safetensors   that run's encoder at its initial weights
 * embeddings/baseline/<lang>/<file>.npy
 * embeddings/{random,pretrained}/seed-<s>/<lang>/<file>.npy
 * probe/{baseline,random,pretrained}/seed-<s>.json
 * events/, embeddings/events/, probe/events/   the event-detection step (events_step.ts)
 * loss.png, pca_{baseline,random,pretrained}.png, sed.png, report.json
 * ```
 *
 * @module
 */
import { basename, join, relative } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { decodeNpy } from "../io/npy.ts";
import { readLabeledSet } from "../probe/labeled_set.ts";
import { readEmbeddings } from "../probe/embeddings.ts";
import { DEFAULT_DATA_ROOT } from "./data.ts";
import { lossFigure, pcaFigure, readRunLog } from "./figures.ts";
import { encodePng } from "./png.ts";
import { atst, prepareOut } from "./_run.ts";
import { runEventsStep, type Stage } from "./events_step.ts";
import { saveInitialEncoder } from "./random_init.ts";
import {
  type DataOptions,
  embedArgs,
  prepareData,
  pretrainArgs,
  type PretrainSetting,
  probeArgs,
  readProbeAccuracy,
  writeBaselineEmbeddings,
} from "./steps.ts";
import {
  type DemoReport,
  meanStd,
  type MethodResult,
  type PretrainRun,
  type StageRecord,
  summarize,
} from "./report.ts";

/** Sizes and budgets of one demo run. */
export interface DemoConfig extends DataOptions, PretrainSetting {
  out: string;
  /** Pre-training runs (and random inits and probes), one per seed from `seed` on. */
  seeds: number;
  probeEpochs: number;
  /** How many clips `atst featurize` shows its output for. */
  featurizeFiles: number;
}

/**
 * The demo's pre-training learning rate for `batch` clips: ten times the
 * recipe's 5e-4 * batch / 256. The recipe's rule was tuned for batches of
 * 1536 over about 39 000 steps; over 150 steps of 16 clips, ten times it is
 * still stable (no collapse in tools/demo_sweep.ts) and twenty times it is
 * worse than the random start.
 */
export function demoLr(batch: number): number {
  return (5e-3 * batch) / 256;
}

/**
 * The default run: three pre-trainings of about a minute each on 2 CPU cores
 * (see README), the setting tools/demo_sweep.ts measured best.
 */
export const DEFAULT_CONFIG: Omit<DemoConfig, "out"> = {
  dataRoot: DEFAULT_DATA_ROOT,
  installData: true,
  // 100, not fewer: with 40 per language the spread of one encoder's accuracy over seeds
  // (2.7 points) hid any effect of pre-training; with 100 it is 0.3 (tools/demo_sweep.ts).
  labeledPerClass: 100,
  folds: 5,
  unlabeledPerClass: 120,
  size: "tiny",
  steps: 150,
  batch: 16,
  cropSeconds: 2,
  lr: demoLr(16),
  // The recipe's: a faster teacher (0.95) was worse than the random start in every seed.
  ema: 0.99,
  seeds: 3,
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
  lr: demoLr(4),
  cropSeconds: 1,
  // Two, so the test sees the spread over seeds computed.
  seeds: 2,
  probeEpochs: 10,
  featurizeFiles: 2,
  quick: true,
};

const METHODS: { key: MethodResult["key"]; name: string }[] = [
  { key: "baseline", name: "(a) log-mel mean+std" },
  { key: "random", name: "(b) encoder, random weights" },
  { key: "pretrained", name: "(c) encoder, pre-trained" },
];

/** The seeds of a run: `cfg.seed`, `cfg.seed + 1`, ... (`cfg.seeds` of them). */
export function seedList(cfg: Pick<DemoConfig, "seed" | "seeds">): number[] {
  return Array.from({ length: cfg.seeds }, (_, i) => cfg.seed + i);
}

/**
 * Runs every stage and returns the report (also written to
 * `<out>/report.json`). `say` gets one line per stage.
 */
export async function runDemo(cfg: DemoConfig, say: (line: string) => void): Promise<DemoReport> {
  const t0 = performance.now();
  const out = cfg.out;
  await prepareOut(out);
  const seeds = seedList(cfg);
  const rel = (p: string) => relative(out, p) || ".";
  const stages: StageRecord[] = [];
  // How a user would type the command from the current folder.
  const shell = (args: string[]) =>
    "atst " + args.map((a) => (a.startsWith(out) ? relative(Deno.cwd(), a) || "." : a)).join(" ");
  const stage: Stage = async (name, fn) => {
    say(`demo: ${name} ...`);
    const t = performance.now();
    const r = await fn();
    const seconds = (performance.now() - t) / 1000;
    const commands = r.commands?.map(shell);
    stages.push({ name, seconds, commands, outputs: r.outputs.map(rel) });
    const shown = commands?.length ? `: ${commands.join("\n      ")}` : "";
    say(`demo: ${name} done in ${seconds.toFixed(1)} s${shown}`);
    return r.value;
  };
  /** Runs `make(seed)`'s command line for every seed, in seed order. */
  const perSeed = async (make: (seed: number) => string[], opts: { live?: boolean } = {}) => {
    const commands = seeds.map(make);
    const seconds: number[] = [];
    for (const args of commands) {
      const t = performance.now();
      await atst(args, opts);
      seconds.push((performance.now() - t) / 1000);
    }
    return { commands, seconds };
  };
  const runDir = (seed: number) => join(out, "pretrain", `seed-${seed}`);
  const randomModel = (seed: number) => join(out, "random", `seed-${seed}`, "encoder.safetensors");
  const embDir = (key: MethodResult["key"], seed: number) =>
    key === "baseline"
      ? join(out, "embeddings", "baseline")
      : join(out, "embeddings", key, `seed-${seed}`);
  const probeReport = (key: MethodResult["key"], seed: number) =>
    join(out, "probe", key, `seed-${seed}.json`);

  // Data: a balanced labeled set with folds, and a larger unlabeled pool for pre-training.
  const data = await stage("data", async () => {
    const data = await prepareData(join(out, "data"), cfg);
    return { value: data, outputs: [data.csv, data.labeledDir, data.unlabeledDir] };
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
    return { value: undefined, outputs: [dir], commands: [args] };
  });

  // Pre-train on the unlabeled pool, once per seed; minutes long, so its progress lines show.
  const pretrainSeconds = await stage("pretrain", async () => {
    const r = await perSeed(
      (seed) => pretrainArgs(data.unlabeledDir, runDir(seed), { ...cfg, seed }),
      { live: !cfg.quick },
    );
    const outputs = seeds.flatMap((s) => [
      join(runDir(s), "encoder.safetensors"),
      join(runDir(s), "log.jsonl"),
    ]);
    return { value: r.seconds, outputs, commands: r.commands };
  });

  // Each run's encoder at the weights it started from (same seed).
  await stage("random-init", async () => {
    for (const seed of seeds) await saveInitialEncoder(randomModel(seed), { ...cfg, seed });
    return { value: undefined, outputs: seeds.map(randomModel) };
  });

  // Embeddings: baseline in-process, encoders through `atst embed`.
  await stage("baseline", async () => {
    await writeBaselineEmbeddings(data, embDir("baseline", cfg.seed));
    return { value: undefined, outputs: [embDir("baseline", cfg.seed)] };
  });
  const models = {
    random: randomModel,
    pretrained: (s: number) => join(runDir(s), "encoder.safetensors"),
  };
  for (const key of ["random", "pretrained"] as const) {
    await stage(`embed-${key}`, async () => {
      const r = await perSeed((seed) =>
        embedArgs(data.labeledDir, models[key](seed), {
          out: embDir(key, seed),
          backend: cfg.backend,
        })
      );
      return { value: undefined, outputs: seeds.map((s) => embDir(key, s)), commands: r.commands };
    });
  }

  // Probe each kind of features with the folds, once per seed.
  const results: MethodResult[] = [];
  for (const m of METHODS) {
    const r = await stage(`probe-${m.key}`, async () => {
      const opts = { epochs: cfg.probeEpochs, backend: cfg.backend };
      const run = await perSeed((seed) =>
        probeArgs(data.csv, embDir(m.key, seed), {
          ...opts,
          seed,
          report: probeReport(m.key, seed),
        })
      );
      const bySeed = [];
      for (const seed of seeds) {
        bySeed.push({ seed, ...(await readProbeAccuracy(probeReport(m.key, seed))) });
      }
      return {
        value: summarize(m, bySeed),
        outputs: seeds.map((s) => probeReport(m.key, s)),
        commands: run.commands,
      };
    });
    results.push(r);
  }

  // Plots: loss and collapse monitor of every run, and a PCA of each kind of embedding.
  const plots = await stage("plots", async () => {
    const logs = [];
    for (const seed of seeds) logs.push({ seed, ...(await readRunLog(runDir(seed))) });
    const lossPng = join(out, "loss.png");
    const title =
      `Pre-training, ${cfg.size}, ${cfg.steps} steps, lr ${cfg.lr}, ${seeds.length} seeds`;
    await writeFileAtomic(lossPng, encodePng(lossFigure(logs, title)));
    const set = await readLabeledSet(data.csv);
    const pcaPngs: string[] = [];
    for (const m of METHODS) {
      const t = await readEmbeddings(embDir(m.key, cfg.seed), set.items);
      const rows = Array.from({ length: t.n }, (_, i) => t.x.subarray(i * t.dim, (i + 1) * t.dim));
      const labels = set.items.map((it) => it.labels[0]!);
      const png = join(out, `pca_${m.key}.png`);
      const which = m.key === "baseline" ? "" : ` (seed ${cfg.seed})`;
      const fig = pcaFigure(rows, labels, `${m.name}${which}: PCA (standardised)`);
      await writeFileAtomic(png, encodePng(fig));
      pcaPngs.push(png);
    }
    return {
      value: { loss: rel(lossPng), pca: pcaPngs.map(rel), logs },
      outputs: [lossPng, ...pcaPngs],
    };
  });

  // Event detection: where speech starts and stops in long mixtures of the labeled clips.
  const model = models.pretrained(cfg.seed);
  const events = await runEventsStep(data, { ...cfg, model, atst, stage, rel });

  const runs: PretrainRun[] = plots.logs.map((l, i) => ({
    seed: l.seed,
    run: rel(runDir(l.seed)),
    seconds: pretrainSeconds[i]!,
    firstLoss: l.loss[0]!,
    lastLoss: l.loss.at(-1)!,
    lastStdStudent: l.stdStudent.at(-1)!,
  }));
  const [random, pretrained] = [results[1]!, results[2]!];
  const gain = seeds.map((_, i) => pretrained.seeds[i]!.mean - random.seeds[i]!.mean);
  const report: DemoReport = {
    version: 3,
    command: `deno task demo ${cfg.quick ? "--quick " : ""}--out ${out}`,
    quick: cfg.quick,
    seeds,
    data: {
      root: cfg.dataRoot,
      classes: data.classes,
      labeledPerClass: cfg.labeledPerClass,
      folds: cfg.folds,
      unlabeled: data.unlabeled,
    },
    pretrain: {
      size: cfg.size,
      steps: cfg.steps,
      batch: cfg.batch,
      cropSeconds: cfg.cropSeconds,
      lr: cfg.lr,
      ema: cfg.ema,
      seconds: runs.reduce((a, r) => a + r.seconds, 0),
      firstLoss: meanStd(runs.map((r) => r.firstLoss)).mean,
      lastLoss: meanStd(runs.map((r) => r.lastLoss)).mean,
      runs,
    },
    stages,
    results,
    gain: { perSeed: gain, ...meanStd(gain), wins: gain.filter((g) => g > 0).length },
    events: events.summary,
    plots: { loss: plots.loss, pca: plots.pca, sed: events.plot },
    totalSeconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(join(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  return report;
}
