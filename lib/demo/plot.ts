/**
 * Two plots for the demo, drawn into a {@link Raster}: a line plot (the
 * pre-training loss curve) and a scatter plot coloured by label with a
 * legend (the 2-D PCA of the embeddings). Both have a frame, ticks with
 * values, axis titles and a title.
 *
 * @module
 */
import { Raster, type Rgb, textHeight, textWidth } from "./raster.ts";

/** Ten colours that stay apart for common colour-vision deficiencies (Tableau 10). */
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const INK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

/** Titles and size shared by both plots. */
export interface PlotFrame {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Lower end of the y axis (unpadded), for a quantity whose floor means something. */
  yFrom?: number;
  /**
   * Left edge of the plotting area and room for the legend, in pixels, so
   * stacked panels share one x axis; by default they fit the tick labels and
   * legend names.
   */
  plotLeft?: number;
  legendWidth?: number;
}

/** One line of a line plot. */
export interface Series {
  name: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  color?: Rgb;
  thickness?: number;
  /** Listed in the legend (default true). */
  legend?: boolean;
}

/** One point of a scatter plot. */
export interface LabeledPoint {
  x: number;
  y: number;
  label: string;
}

/**
 * About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5
 * times a power of ten), all inside the range.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** A short label for a tick value: no trailing zeros, exponent form for very large or small. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(4)));
}

interface Axes {
  raster: Raster;
  toX(v: number): number;
  toY(v: number): number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Range of finite values, padded by `pad` of its span (or by 1 when flat). */
function range(values: number[], pad: number): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (hi === lo) return [lo - 1, hi + 1];
  const d = (hi - lo) * pad;
  lo -= d, hi += d;
  return [lo, hi];
}

function drawAxes(
  frame: PlotFrame,
  xr: [number, number],
  yr: [number, number],
  rightPad: number,
): Axes {
  const width = frame.width ?? 720, height = frame.height ?? 480;
  const s = 2; // font scale for titles and tick labels
  const raster = new Raster(width, height);
  const yTicks = niceTicks(yr[0], yr[1]), xTicks = niceTicks(xr[0], xr[1]);
  const yTickW = Math.max(...yTicks.map((v) => textWidth(formatTick(v), s)));
  const left = frame.plotLeft ?? 16 + textHeight(s) + 10 + yTickW + 8;
  const top = 16 + textHeight(s) + 16;
  const bottom = height - (16 + textHeight(s) + 10 + textHeight(s) + 10);
  const right = width - 16 - rightPad;
  const toX = (v: number) => left + ((v - xr[0]) / (xr[1] - xr[0])) * (right - left);
  const toY = (v: number) => bottom - ((v - yr[0]) / (yr[1] - yr[0])) * (bottom - top);

  for (const v of yTicks) {
    const y = toY(v);
    raster.line(left + 1, y, right - 1, y, GRID);
    raster.line(left - 5, y, left, y, INK);
    const label = formatTick(v);
    raster.text(left - 8 - textWidth(label, s), y - textHeight(s) / 2, label, INK, { scale: s });
  }
  for (const v of xTicks) {
    const x = toX(v);
    raster.line(x, top + 1, x, bottom - 1, GRID);
    raster.line(x, bottom, x, bottom + 5, INK);
    const label = formatTick(v);
    raster.text(x - textWidth(label, s) / 2, bottom + 10, label, INK, { scale: s });
  }
  raster.line(left, top, right, top, INK);
  raster.line(left, bottom, right, bottom, INK);
  raster.line(left, top, left, bottom, INK);
  raster.line(right, top, right, bottom, INK);

  raster.text((width - textWidth(frame.title, s)) / 2, 16, frame.title, INK, { scale: s });
  raster.text(
    (left + right - textWidth(frame.xLabel, s)) / 2,
    height - 16 - textHeight(s),
    frame.xLabel,
    INK,
    { scale: s },
  );
  raster.text(16, (top + bottom + textWidth(frame.yLabel, s)) / 2, frame.yLabel, INK, {
    scale: s,
    vertical: true,
  });
  return { raster, toX, toY, left, right, top, bottom };
}

function drawLegend(axes: Axes, entries: { name: string; color: Rgb }[], x: number): void {
  const s = 2;
  let y = axes.top + 4;
  for (const e of entries) {
    axes.raster.fillRect(x, y, 14, 14, e.color);
    axes.raster.text(x + 22, y + (14 - textHeight(s)) / 2, e.name, INK, { scale: s });
    y += 24;
  }
}

function legendWidth(names: string[]): number {
  return names.length ? 22 + Math.max(...names.map((n) => textWidth(n, 2))) + 24 : 0;
}

/**
 * Draws one or more series as lines over shared axes, with a legend when
 * there are several. Non-finite points are skipped (the line breaks there).
 *
 * @example
 * ```ts
 * const r = linePlot([{ name: "loss", xs: [0, 1, 2], ys: [3, 2, 1.5] }], {
 *   title: "Pre-training loss", xLabel: "step", yLabel: "loss",
 * });
 * ```
 */
export function linePlot(series: Series[], frame: PlotFrame): Raster {
  const allX: number[] = [], allY: number[] = [];
  for (const s of series) {
    for (let i = 0; i < s.xs.length; i++) allX.push(s.xs[i]!), allY.push(s.ys[i]!);
  }
  const listed = series.length > 1 ? series.filter((s) => s.legend !== false) : [];
  const yr = range(frame.yFrom === undefined ? allY : [...allY, frame.yFrom], 0.05);
  if (frame.yFrom !== undefined) yr[0] = frame.yFrom;
  const names = listed.map((s) => s.name);
  const axes = drawAxes(frame, range(allX, 0), yr, frame.legendWidth ?? legendWidth(names));
  const colorOf = (s: Series) => s.color ?? PALETTE[series.indexOf(s) % PALETTE.length]!;
  for (const s of series) {
    const color = colorOf(s);
    let prev: [number, number] | undefined;
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i]!, y = s.ys[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        prev = undefined;
        continue;
      }
      const p: [number, number] = [axes.toX(x), axes.toY(y)];
      if (prev) axes.raster.line(prev[0], prev[1], p[0], p[1], color, s.thickness ?? 2);
      else axes.raster.dot(p[0], p[1], 1, color);
      prev = p;
    }
  }
  if (listed.length) {
    drawLegend(axes, listed.map((s) => ({ name: s.name, color: colorOf(s) })), axes.right + 16);
  }
  return axes.raster;
}

/**
 * Draws labeled points, one colour per label (labels sorted), with a legend
 * to the right of the plot.
 */
export function scatterPlot(points: LabeledPoint[], frame: PlotFrame): Raster {
  const labels = [...new Set(points.map((p) => p.label))].sort();
  const axes = drawAxes(
    frame,
    range(points.map((p) => p.x), 0.05),
    range(points.map((p) => p.y), 0.05),
    legendWidth(labels),
  );
  const color = new Map(labels.map((l, k) => [l, PALETTE[k % PALETTE.length]!]));
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const x = axes.toX(p.x), y = axes.toY(p.y);
    axes.raster.dot(x, y, 5, [255, 255, 255]);
    axes.raster.dot(x, y, 4, color.get(p.label)!);
  }
  drawLegend(axes, labels.map((l) => ({ name: l, color: color.get(l)! })), axes.right + 16);
  return axes.raster;
}
