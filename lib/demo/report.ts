/**
 * The demo's report: one JSON file (`<out>/report.json`) with what ran, how
 * long each stage took, which files it wrote and the probe accuracies, plus
 * the table printed on stdout. The reader sits next to the writer and checks
 * the shape, so the test (and anyone scripting the demo) gets one clear
 * error instead of an undefined deep inside.
 *
 * @module
 */

/** One stage of the pipeline as it ran. */
export interface StageRecord {
  name: string;
  seconds: number;
  /** The command lines, for stages that ran the CLI (one per seed for the encoder stages). */
  commands?: string[];
  /** Files or folders the stage wrote (paths relative to the output folder). */
  outputs: string[];
}

/** Probe accuracy of one kind of features with one seed. */
export interface SeedResult {
  seed: number;
  /** Test accuracy of each fold, in fold order, 0..1. */
  folds: number[];
  /** Mean and std over the folds. */
  mean: number;
  std: number;
}

/** Probe accuracy of one kind of features over the seeds. */
export interface MethodResult {
  key: "baseline" | "random" | "pretrained";
  /** What the row shows, e.g. "(a) log-mel mean+std". */
  name: string;
  dim: number;
  /** One entry per seed, in seed order. */
  seeds: SeedResult[];
  /** Mean over seeds of each fold's accuracy, in fold order. */
  folds: number[];
  /** Mean and std over seeds of the per-seed accuracy (itself the mean over folds). */
  mean: number;
  std: number;
}

/** One pre-training run (one seed). */
export interface PretrainRun {
  seed: number;
  /** Run folder, relative to the output folder. */
  run: string;
  seconds: number;
  firstLoss: number;
  lastLoss: number;
  /** Collapse monitor at the last step: std over the batch of the normalised student outputs. */
  lastStdStudent: number;
}

/** Event-detection scores of one kind of frames (fractions; the error rate may exceed 1). */
export interface EventScores {
  segmentF1: number;
  segmentER: number;
  eventF1: number;
  onsetF1: number;
  frameMAP: number;
}

/** The events probe of one kind of frames on the demo's mixtures. */
export interface EventMethodResult {
  key: "logmel" | "pretrained";
  name: string;
  dim: number;
  /** The probe's JSON report and predicted events (TSV), relative to the output folder. */
  report: string;
  predictions: string;
  /** Mean and std over folds. */
  mean: EventScores;
  std: EventScores;
}

/** The event-detection step: where speech starts and stops in long mixtures. */
export interface EventsSummary {
  files: number;
  seconds: number;
  label: string;
  folds: number;
  seed: number;
  /** Reference events over all files. */
  events: number;
  /** The strong labels, relative to the output folder. */
  tsv: string;
  results: EventMethodResult[];
  /** The files drawn in the activity figure. */
  shown: string[];
}

/** Everything the demo measured. */
export interface DemoReport {
  version: 3;
  /** The command that produced the report. */
  command: string;
  quick: boolean;
  /** Seeds of the pre-training runs, random inits and probes. */
  seeds: number[];
  data: {
    root: string;
    classes: string[];
    labeledPerClass: number;
    folds: number;
    unlabeled: number;
  };
  pretrain: {
    size: string;
    steps: number;
    batch: number;
    cropSeconds: number;
    lr: number;
    ema: number;
    /** All runs together. */
    seconds: number;
    /** Means over the runs. */
    firstLoss: number;
    lastLoss: number;
    runs: PretrainRun[];
  };
  stages: StageRecord[];
  results: MethodResult[];
  /**
   * Pre-trained minus random-weights accuracy per seed (each seed against the
   * weights its own run started from), its mean and std, and in how many
   * seeds it was positive.
   */
  gain: { perSeed: number[]; mean: number; std: number; wins: number };
  events: EventsSummary;
  /** PNG files (relative to the output folder). */
  plots: { loss: string; pca: string[]; sed: string };
  totalSeconds: number;
}

/** Mean and (population) standard deviation. */
export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length);
  return { mean, std: Math.sqrt(v) };
}

/**
 * One method's result from its probe outcome for each seed (seed order):
 * per-seed mean over folds, then mean and std of those over seeds.
 *
 * @example
 * ```ts
 * const r = summarize({ key: "random", name: "(b)" }, [
 *   { seed: 1, dim: 8, folds: [0.5, 1] },
 *   { seed: 2, dim: 8, folds: [1, 1] },
 * ]); // r.mean === 0.875, r.std === 0.125
 * ```
 */
export function summarize(
  method: { key: MethodResult["key"]; name: string },
  bySeed: { seed: number; dim: number; folds: number[] }[],
): MethodResult {
  const first = bySeed[0];
  if (!first) throw new Error(`No probe results for ${method.key}`);
  for (const s of bySeed) {
    if (s.dim !== first.dim || s.folds.length !== first.folds.length) {
      throw new Error(
        `${method.key}: seed ${s.seed} has another dim or fold count than seed ${first.seed}`,
      );
    }
  }
  const seeds = bySeed.map((s) => ({ seed: s.seed, folds: s.folds, ...meanStd(s.folds) }));
  const folds = first.folds.map((_, f) => meanStd(seeds.map((s) => s.folds[f]!)).mean);
  return { ...method, dim: first.dim, seeds, folds, ...meanStd(seeds.map((s) => s.mean)) };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;
const signed = (x: number) => `${x >= 0 ? "+" : "-"}${pct(Math.abs(x))}`;

/** `rows` under `head` as a Markdown table, columns padded to their widest cell. */
function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

/**
 * The results as a Markdown table (it reads as plain text too), with chance
 * level under it: accuracy as mean ± std over seeds, each seed's accuracy
 * (mean over folds), and the spread over folds (mean over seeds of each
 * seed's std over folds).
 */
export function formatTable(results: MethodResult[], classes: number): string {
  const rows = results.map((r) => [
    r.name,
    String(r.dim),
    `${pct(r.mean)} ± ${pct(r.std)}`,
    r.seeds.map((s) => pct(s.mean)).join(" "),
    pct(meanStd(r.seeds.map((s) => s.std)).mean),
  ]);
  const n = results[0]?.seeds.length ?? 0;
  const head = [
    "features",
    "dim",
    `accuracy % (mean ± std over ${n} seed${n === 1 ? "" : "s"})`,
    "per seed %",
    "std over folds %",
  ];
  return [
    markdownTable(head, rows),
    "",
    `Chance level: ${pct(1 / classes)} % (${classes} balanced classes).`,
  ].join("\n");
}

/** One line on what pre-training added over each run's own random start. */
export function formatGain(gain: DemoReport["gain"]): string {
  const n = gain.perSeed.length;
  return `Pre-trained minus random weights, per seed: ${
    gain.perSeed.map(signed).join(" ")
  } points (mean ${signed(gain.mean)} ± ${
    pct(gain.std)
  }); pre-training is ahead in ${gain.wins} of ${n} seed${n === 1 ? "" : "s"}.`;
}

function fail(path: string, what: string): never {
  throw new Error(`Demo report '${path}': ${what}`);
}

function isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function isAccuracy(x: unknown): boolean {
  return isNum(x) && x >= 0 && x <= 1;
}

/** Parses and checks `report.json` text; throws naming the first bad field. */
export function parseReport(text: string, path = "report.json"): DemoReport {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text);
  } catch (err) {
    fail(path, `not JSON (${(err as Error).message})`);
  }
  if (r === null || typeof r !== "object") fail(path, "not a JSON object");
  if (r.version !== 3) fail(path, `unknown version ${JSON.stringify(r.version)}`);
  const seeds = r.seeds;
  if (!Array.isArray(seeds) || !seeds.length || !seeds.every((s) => Number.isInteger(s))) {
    fail(path, "seeds must list at least one whole number");
  }
  const data = r.data as DemoReport["data"] | undefined;
  if (!data || !Array.isArray(data.classes) || data.classes.length < 2) {
    fail(path, "data.classes must list at least 2 classes");
  }
  const pre = r.pretrain as DemoReport["pretrain"] | undefined;
  if (!pre || !isNum(pre.steps) || !isNum(pre.firstLoss) || !isNum(pre.lastLoss)) {
    fail(path, "pretrain must hold steps, firstLoss and lastLoss numbers");
  }
  if (!isNum(pre.lr) || !isNum(pre.ema) || !isNum(pre.batch) || !isNum(pre.cropSeconds)) {
    fail(path, "pretrain must hold its lr, ema, batch and cropSeconds");
  }
  if (!Array.isArray(pre.runs) || pre.runs.map((x) => x.seed).join() !== seeds.join()) {
    fail(path, "pretrain.runs must hold one run per seed, in seed order");
  }
  for (const run of pre.runs) {
    if (typeof run.run !== "string" || !isNum(run.seconds) || !isNum(run.lastStdStudent)) {
      fail(path, `pretrain run of seed ${run.seed}: bad run, seconds or lastStdStudent`);
    }
  }
  if (!Array.isArray(r.stages) || !r.stages.length) fail(path, "no stages");
  for (const s of r.stages as StageRecord[]) {
    if (typeof s.name !== "string" || !isNum(s.seconds) || !Array.isArray(s.outputs)) {
      fail(path, `bad stage ${JSON.stringify(s)}`);
    }
  }
  const results = r.results as MethodResult[] | undefined;
  const keys = ["baseline", "random", "pretrained"];
  if (!Array.isArray(results) || results.map((x) => x.key).join() !== keys.join()) {
    fail(path, `results must be ${keys.join(", ")} in that order`);
  }
  for (const m of results) {
    if (!isNum(m.dim) || m.dim < 1) fail(path, `${m.key}: bad dim`);
    if (!Array.isArray(m.folds) || m.folds.length !== data.folds) {
      fail(path, `${m.key}: expected ${data.folds} fold accuracies`);
    }
    if (!Array.isArray(m.seeds) || m.seeds.map((s) => s.seed).join() !== seeds.join()) {
      fail(path, `${m.key}: expected one result per seed, in seed order`);
    }
    for (const s of m.seeds) {
      if (!Array.isArray(s.folds) || s.folds.length !== data.folds) {
        fail(path, `${m.key}: expected ${data.folds} fold accuracies for seed ${s.seed}`);
      }
      for (const a of [...s.folds, s.mean]) {
        if (!isAccuracy(a)) fail(path, `${m.key}: accuracy ${a} outside 0..1`);
      }
    }
    for (const a of [...m.folds, m.mean]) {
      if (!isAccuracy(a)) fail(path, `${m.key}: accuracy ${a} outside 0..1`);
    }
    if (!isNum(m.std)) fail(path, `${m.key}: std missing`);
  }
  const gain = r.gain as DemoReport["gain"] | undefined;
  if (!gain || !Array.isArray(gain.perSeed) || gain.perSeed.length !== seeds.length) {
    fail(path, "gain.perSeed must hold one number per seed");
  }
  if (!isNum(gain.mean) || !isNum(gain.std) || !isNum(gain.wins)) {
    fail(path, "gain must hold mean, std and wins");
  }
  const plots = r.plots as DemoReport["plots"] | undefined;
  if (!plots || typeof plots.loss !== "string" || !Array.isArray(plots.pca) || !plots.pca.length) {
    fail(path, "plots must name the loss PNG and at least one PCA PNG");
  }
  if (typeof plots.sed !== "string") fail(path, "plots must name the event-detection PNG (sed)");
  checkEvents(path, r.events as EventsSummary | undefined);
  if (!isNum(r.totalSeconds)) fail(path, "totalSeconds missing");
  return r as unknown as DemoReport;
}

const EVENT_KEYS = ["logmel", "pretrained"];

function checkEvents(path: string, ev: EventsSummary | undefined): void {
  if (!ev || !isNum(ev.files) || !isNum(ev.seconds) || !isNum(ev.events)) {
    fail(path, "events must hold files, seconds and events numbers");
  }
  if (typeof ev.tsv !== "string" || !Array.isArray(ev.shown) || !ev.shown.length) {
    fail(path, "events must name its TSV and the files shown");
  }
  const results = ev.results;
  if (!Array.isArray(results) || results.map((x) => x.key).join() !== EVENT_KEYS.join()) {
    fail(path, `events.results must be ${EVENT_KEYS.join(", ")} in that order`);
  }
  for (const m of results) {
    if (!isNum(m.dim) || typeof m.report !== "string" || typeof m.predictions !== "string") {
      fail(path, `events ${m.key}: bad dim, report or predictions`);
    }
    for (const k of ["segmentF1", "eventF1", "onsetF1", "frameMAP"] as const) {
      if (!isAccuracy(m.mean?.[k]) || !isNum(m.std?.[k])) {
        fail(path, `events ${m.key}: ${k} must be a mean in 0..1 with its std`);
      }
    }
    if (!isNum(m.mean.segmentER) || !isNum(m.std.segmentER)) {
      fail(path, `events ${m.key}: segmentER missing`);
    }
  }
}

/** The event-detection results as a Markdown table (F1 and mAP in %, mean ± std over folds). */
export function formatEventsTable(ev: EventsSummary): string {
  const cell = (r: EventMethodResult, k: keyof EventScores) =>
    k === "segmentER"
      ? `${r.mean[k].toFixed(2)} ± ${r.std[k].toFixed(2)}`
      : `${pct(r.mean[k])} ± ${pct(r.std[k])}`;
  const keys = ["segmentF1", "segmentER", "eventF1", "onsetF1", "frameMAP"] as const;
  const head = ["frames", "dim", "segment F1", "segment ER", "event F1", "onset F1", "frame mAP"];
  const rows = ev.results.map((r) => [r.name, String(r.dim), ...keys.map((k) => cell(r, k))]);
  return markdownTable(head, rows);
}
