/**
 * A small RGBA raster with the drawing the demo's plots need: rectangles,
 * lines, dots and text in a 5x7 bitmap font. Coordinates are pixels, origin
 * at the top left; drawing outside the raster is clipped.
 *
 * @module
 */
import { glyph, GLYPH_H, GLYPH_W } from "./_font.ts";

/** An RGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

/** An RGBA image held in memory, row-major, 4 bytes per pixel. */
export class Raster {
  /** RGBA bytes, `width * height * 4`. */
  readonly data: Uint8Array;

  /** A raster filled with `background` (white by default). */
  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
      throw new Error(`Raster size must be positive whole numbers, got ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  /** Sets one pixel (ignored outside the raster). */
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
    this.data[o + 3] = 255;
  }

  /** The RGB colour at (x, y). */
  get(x: number, y: number): Rgb {
    const o = (y * this.width + x) * 4;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  /** Fills the rectangle [x, x + w) x [y, y + h). */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x)), x1 = Math.min(this.width, Math.round(x + w));
    const y0 = Math.max(0, Math.round(y)), y1 = Math.min(this.height, Math.round(y + h));
    for (let j = y0; j < y1; j++) for (let i = x0; i < x1; i++) this.set(i, j, c);
  }

  /** A straight line `thickness` pixels wide (Bresenham with a square pen). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    x0 = Math.round(x0), y0 = Math.round(y0), x1 = Math.round(x1), y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const lo = -Math.floor((thickness - 1) / 2), hi = lo + thickness;
    let err = dx + dy;
    for (;;) {
      for (let j = lo; j < hi; j++) for (let i = lo; i < hi; i++) this.set(x0 + i, y0 + j, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }

  /** Copies `other` into this raster with its top-left corner at (x, y) (clipped). */
  draw(other: Raster, x: number, y: number): void {
    for (let j = 0; j < other.height; j++) {
      for (let i = 0; i < other.width; i++) this.set(x + i, y + j, other.get(i, j));
    }
  }

  /** A filled disc of radius `r` centred on (cx, cy). */
  dot(cx: number, cy: number, r: number, c: Rgb): void {
    for (let j = -Math.ceil(r); j <= Math.ceil(r); j++) {
      for (let i = -Math.ceil(r); i <= Math.ceil(r); i++) {
        if (i * i + j * j <= r * r + 0.5) this.set(cx + i, cy + j, c);
      }
    }
  }

  /**
   * Draws `text` with its top-left corner at (x, y), each font cell `scale`
   * pixels; `vertical` draws it rotated a quarter turn counter-clockwise
   * (reading bottom to top, for y-axis titles), then (x, y) is the
   * bottom-left corner.
   */
  text(
    x: number,
    y: number,
    text: string,
    c: Rgb,
    opts: { scale?: number; vertical?: boolean } = {},
  ): void {
    const s = opts.scale ?? 1;
    let pen = 0;
    for (const ch of text) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_H; r++) {
        for (let k = 0; k < GLYPH_W; k++) {
          if (!rows[r]![k]) continue;
          const u = pen + k * s, v = r * s;
          if (opts.vertical) this.fillRect(x + v, y - u - s, s, s, c);
          else this.fillRect(x + u, y + v, s, s, c);
        }
      }
      pen += (GLYPH_W + 1) * s;
    }
  }
}

/** Width in pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (GLYPH_W + 1) - 1) * scale;
}

/** Height in pixels of one line of text at `scale`. */
export function textHeight(scale = 1): number {
  return GLYPH_H * scale;
}
