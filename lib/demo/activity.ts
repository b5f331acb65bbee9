/**
 * The event-detection figure: for each shown file, lanes over one time axis,
 * each lane either the intervals where a class is active (the reference, or
 * a method's predictions) or a 0..1 curve (the signal level), so predicted
 * activity reads against the true activity at a glance.
 *
 * @module
 */
import { formatTick, niceTicks } from "./plot.ts";
import { Raster, type Rgb, textHeight, textWidth } from "./raster.ts";

/** One lane: active intervals (seconds) or a curve of 0..1 values every `stepS` seconds. */
export type Lane =
  & { name: string; color: Rgb }
  & ({ intervals: [number, number][] } | { curve: number[]; stepS: number });

/** One file of the figure: its title, length and lanes (top to bottom). */
export interface ActivityPanel {
  title: string;
  seconds: number;
  lanes: Lane[];
}

const S = 2; // font scale
const INK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const LANE_BG: Rgb = [244, 244, 244];
const LANE_H = 30, LANE_GAP = 8, PAD = 16;
const TITLE_H = PAD + textHeight(S) + 12;
const HEADER_H = textHeight(S) + 10;
const AXIS_H = 6 + textHeight(S) + 8 + textHeight(S) + 14;

/** Width and height of {@link activityFigure} for panels of `lanes[i]` lanes. */
export function activityFigureSize(
  lanes: number[],
  width = 960,
): { width: number; height: number } {
  const panels = lanes.map((n) => HEADER_H + n * (LANE_H + LANE_GAP) + AXIS_H);
  return { width, height: TITLE_H + panels.reduce((a, b) => a + b, 0) };
}

/**
 * Draws `panels` one under another under `title`: lane names on the left,
 * time in seconds under each panel, a light grid at the ticks.
 *
 * @example
 * ```ts
 * const r = activityFigure([{ title: "a.wav", seconds: 10, lanes: [
 *   { name: "true", color: [0, 0, 0], intervals: [[1, 2.5]] },
 * ] }], "Speech activity");
 * ```
 */
export function activityFigure(panels: ActivityPanel[], title: string, width = 960): Raster {
  const { height } = activityFigureSize(panels.map((p) => p.lanes.length), width);
  const out = new Raster(width, height);
  out.text((width - textWidth(title, S)) / 2, PAD, title, INK, { scale: S });
  const names = panels.flatMap((p) => p.lanes.map((l) => l.name));
  const left = PAD + Math.max(...names.map((n) => textWidth(n, S))) + 12;
  const right = width - PAD;
  let y = TITLE_H;
  for (const p of panels) {
    out.text(left, y, p.title, INK, { scale: S });
    y += HEADER_H;
    const toX = (t: number) => left + (t / p.seconds) * (right - left);
    const top = y, bottom = y + p.lanes.length * (LANE_H + LANE_GAP) - LANE_GAP;
    for (const l of p.lanes) {
      out.fillRect(left, y, right - left, LANE_H, LANE_BG);
      out.text(left - 12 - textWidth(l.name, S), y + (LANE_H - textHeight(S)) / 2, l.name, INK, {
        scale: S,
      });
      y += LANE_H + LANE_GAP;
    }
    const ticks = niceTicks(0, p.seconds, 10);
    for (const t of ticks) out.line(toX(t), top, toX(t), bottom, GRID);
    let ly = top;
    for (const l of p.lanes) {
      if ("intervals" in l) {
        for (const [a, b] of l.intervals) {
          out.fillRect(toX(a), ly + 3, Math.max(1, toX(b) - toX(a)), LANE_H - 6, l.color);
        }
      } else {
        let prev: [number, number] | undefined;
        l.curve.forEach((v, k) => {
          const pt: [number, number] = [
            toX((k + 0.5) * l.stepS),
            ly + LANE_H - 2 - v * (LANE_H - 4),
          ];
          if (prev) out.line(prev[0], prev[1], pt[0], pt[1], l.color, 1);
          prev = pt;
        });
      }
      ly += LANE_H + LANE_GAP;
    }
    out.line(left, bottom + 2, right, bottom + 2, INK);
    for (const t of ticks) {
      const x = toX(t), label = formatTick(t);
      out.line(x, bottom + 2, x, bottom + 7, INK);
      out.text(x - textWidth(label, S) / 2, bottom + 10, label, INK, { scale: S });
    }
    const xLabel = "time (s)";
    out.text(
      (left + right - textWidth(xLabel, S)) / 2,
      bottom + 10 + textHeight(S) + 6,
      xLabel,
      INK,
      {
        scale: S,
      },
    );
    y = top + p.lanes.length * (LANE_H + LANE_GAP) + AXIS_H;
  }
  return out;
}
