/**
 * The demo's figures: the pre-training runs (loss, and the collapse monitor
 * from each run's log.jsonl) and a 2-D PCA of clip embeddings coloured by
 * label.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { LogLine } from "../train/state.ts";
import { pca } from "./pca.ts";
import { linePlot, PALETTE, scatterPlot, type Series } from "./plot.ts";
import { Raster, type Rgb } from "./raster.ts";

/** Per-step series of one run's log: loss, std of the normalised outputs, step time. */
export interface RunCurves {
  steps: number[];
  loss: number[];
  stdStudent: number[];
  seconds: number[];
  /** Width of the projector's output (config.json `heads.out`), when known. */
  outDim?: number;
}

/** Reads a run's log.jsonl (and its head width from config.json). */
export async function readRunLog(runDir: string): Promise<RunCurves> {
  const curves: RunCurves = { steps: [], loss: [], stdStudent: [], seconds: [] };
  for (const line of (await Deno.readTextFile(join(runDir, "log.jsonl"))).split("\n")) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as LogLine;
    curves.steps.push(rec.step);
    curves.loss.push(rec.loss);
    curves.stdStudent.push(rec.std_student);
    curves.seconds.push(rec.seconds);
  }
  if (!curves.steps.length) throw new UserError(`No steps logged in ${join(runDir, "log.jsonl")}`);
  try {
    const cfg = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
    if (typeof cfg?.heads?.out === "number") curves.outDim = cfg.heads.out;
  } catch {
    // No config (or not ours): the figure just leaves out the reference line.
  }
  return curves;
}

/** Centred moving average over `w` points (shorter at the ends): the trend without lag. */
export function smooth(xs: number[], w: number): number[] {
  const h = Math.floor(w / 2);
  return xs.map((_, i) => {
    const part = xs.slice(Math.max(0, i - h), i + h + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}

/** `c` mixed with white: the raw per-step curve behind its smoothed trend. */
function pale([r, g, b]: Rgb): Rgb {
  const f = (v: number) => Math.round(v + (255 - v) * 0.65);
  return [f(r), f(g), f(b)];
}

/**
 * Each run's curve of `ys`, one colour per run: with enough steps to smooth,
 * the raw values pale (all runs first, so no raw line hides a trend) and the
 * moving average on top.
 */
function curves(
  runs: (RunCurves & { seed: number })[],
  ys: (r: RunCurves) => number[],
): Series[] {
  const raw: Series[] = [], trend: Series[] = [];
  runs.forEach((r, i) => {
    const name = `seed ${r.seed}`, color = PALETTE[i % PALETTE.length]!;
    if (r.steps.length < 20) {
      trend.push({ name, xs: r.steps, ys: ys(r), color });
    } else {
      const w = Math.max(5, Math.round(r.steps.length / 15));
      raw.push({ name, xs: r.steps, ys: ys(r), color: pale(color), thickness: 1, legend: false });
      trend.push({ name, xs: r.steps, ys: smooth(ys(r), w), color, thickness: 3 });
    }
  });
  return [...raw, ...trend];
}

/**
 * Two panels over one step axis, one colour per run: the BYOL loss on top,
 * and under it the collapse monitor, the std over the batch of the student's
 * L2-normalised outputs, on an axis from 0 (every clip mapped to one point:
 * collapsed) with a line at 1/sqrt(d), the largest spread d-dimensional unit
 * vectors can have. Raw per-step values are pale behind a moving average.
 */
export function lossFigure(runs: (RunCurves & { seed: number })[], title: string): Raster {
  const width = 720, panel = 400;
  const layout = { width, height: panel, plotLeft: 110, legendWidth: 190 };
  const loss = curves(runs, (r) => r.loss);
  const std = curves(runs, (r) => r.stdStudent);
  const d = runs.find((r) => r.outDim)?.outDim;
  if (d) {
    const xs = runs.flatMap((r) => [r.steps[0]!, r.steps.at(-1)!]);
    const lo = Math.min(...xs), hi = Math.max(...xs);
    std.push({
      name: `1/sqrt(${d})`,
      xs: [lo, hi],
      ys: [d ** -0.5, d ** -0.5],
      color: [127, 127, 127],
      thickness: 2,
    });
  }
  const top = linePlot(loss, { ...layout, title, xLabel: "step", yLabel: "BYOL loss" });
  const bottom = linePlot(std, {
    ...layout,
    title: "Collapse monitor (0 = collapsed, grey = full spread)",
    xLabel: "step",
    yLabel: "std of student outputs",
    yFrom: 0,
  });
  const out = new Raster(width, 2 * panel);
  out.draw(top, 0, 0);
  out.draw(bottom, 0, panel);
  return out;
}

/**
 * PCA of `rows` (one embedding per clip) to 2-D, points coloured by
 * `labels`. The embeddings are standardised first, as the probe sees them:
 * otherwise a few large dimensions rule the plot.
 */
export function pcaFigure(rows: ArrayLike<number>[], labels: string[], title: string): Raster {
  const p = pca(rows, { k: 2, standardize: true });
  const points = labels.map((label, i) => ({
    x: p.projected[2 * i]!,
    y: p.projected[2 * i + 1]!,
    label,
  }));
  const [r1, r2] = p.explainedVarianceRatio.map((r) => `${(100 * r).toFixed(0)}%`);
  return scatterPlot(points, { title, xLabel: `PC1 (${r1})`, yLabel: `PC2 (${r2})` });
}
