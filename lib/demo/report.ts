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
  /** The command line, for stages that ran the CLI. */
  command?: string;
  /** Files or folders the stage wrote (paths relative to the output folder). */
  outputs: string[];
}

/** Probe accuracy of one kind of features over the folds. */
export interface MethodResult {
  key: "baseline" | "random" | "pretrained";
  /** What the row shows, e.g. "(a) log-mel mean+std". */
  name: string;
  dim: number;
  /** Test accuracy of each fold, in fold order, 0..1. */
  folds: number[];
  mean: number;
  std: number;
}

/** Everything the demo measured. */
export interface DemoReport {
  version: 1;
  /** The command that produced the report. */
  command: string;
  quick: boolean;
  data: {
    root: string;
    classes: string[];
    labeledPerClass: number;
    folds: number;
    unlabeled: number;
  };
  pretrain: { size: string; steps: number; seconds: number; firstLoss: number; lastLoss: number };
  stages: StageRecord[];
  results: MethodResult[];
  /** PNG files (relative to the output folder). */
  plots: { loss: string; pca: string[] };
  totalSeconds: number;
}

/** Mean and (population) standard deviation. */
export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length);
  return { mean, std: Math.sqrt(v) };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/**
 * The results as a Markdown table (it reads as plain text too), with chance
 * level under it.
 */
export function formatTable(results: MethodResult[], classes: number): string {
  const rows = results.map((r) => [
    r.name,
    String(r.dim),
    `${pct(r.mean)} ± ${pct(r.std)}`,
    r.folds.map(pct).join(" "),
  ]);
  const head = ["features", "dim", "accuracy % (mean ± std)", "per fold %"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(head),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
    "",
    `Chance level: ${pct(1 / classes)} % (${classes} balanced classes).`,
  ].join("\n");
}

function fail(path: string, what: string): never {
  throw new Error(`Demo report '${path}': ${what}`);
}

function isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
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
  if (r.version !== 1) fail(path, `unknown version ${JSON.stringify(r.version)}`);
  const data = r.data as DemoReport["data"] | undefined;
  if (!data || !Array.isArray(data.classes) || data.classes.length < 2) {
    fail(path, "data.classes must list at least 2 classes");
  }
  const pre = r.pretrain as DemoReport["pretrain"] | undefined;
  if (!pre || !isNum(pre.steps) || !isNum(pre.firstLoss) || !isNum(pre.lastLoss)) {
    fail(path, "pretrain must hold steps, firstLoss and lastLoss numbers");
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
    for (const a of [...m.folds, m.mean]) {
      if (!isNum(a) || a < 0 || a > 1) fail(path, `${m.key}: accuracy ${a} outside 0..1`);
    }
  }
  const plots = r.plots as DemoReport["plots"] | undefined;
  if (!plots || typeof plots.loss !== "string" || !Array.isArray(plots.pca) || !plots.pca.length) {
    fail(path, "plots must name the loss PNG and at least one PCA PNG");
  }
  if (!isNum(r.totalSeconds)) fail(path, "totalSeconds missing");
  return r as unknown as DemoReport;
}
