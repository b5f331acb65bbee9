/**
 * The demo's two figures: the pre-training loss curve (from the run's
 * log.jsonl) and a 2-D PCA of clip embeddings coloured by label.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { pca } from "./pca.ts";
import { linePlot, scatterPlot } from "./plot.ts";
import type { Raster } from "./raster.ts";

/** Per-step loss from the run's log.jsonl. */
export async function readLoss(runDir: string): Promise<{ steps: number[]; loss: number[] }> {
  const steps: number[] = [], loss: number[] = [];
  for (const line of (await Deno.readTextFile(join(runDir, "log.jsonl"))).split("\n")) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as { step: number; loss: number };
    steps.push(rec.step);
    loss.push(rec.loss);
  }
  if (!steps.length) throw new UserError(`No steps logged in ${join(runDir, "log.jsonl")}`);
  return { steps, loss };
}

/** Centred moving average over `w` points (shorter at the ends): the trend without lag. */
export function smooth(xs: number[], w: number): number[] {
  const h = Math.floor(w / 2);
  return xs.map((_, i) => {
    const part = xs.slice(Math.max(0, i - h), i + h + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}

/** The loss per step, with a smoothed trend when there are enough steps. */
export function lossFigure(steps: number[], loss: number[], title: string): Raster {
  const series = [{ name: "loss", xs: steps, ys: loss, thickness: 1 }];
  if (steps.length >= 20) {
    const w = Math.max(5, Math.round(steps.length / 15));
    series.push({ name: "smoothed", xs: steps, ys: smooth(loss, w), thickness: 3 });
  }
  return linePlot(series, { title, xLabel: "step", yLabel: "BYOL loss" });
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
