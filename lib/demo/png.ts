/**
 * PNG encoding of an RGBA raster (pngjs, the common pure-JS codec, does the
 * filtering, deflate and CRCs). Reading is here too, next to the writer, so
 * tests can check what was written.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import type { Raster } from "./raster.ts";

/**
 * Encodes `raster` as an 8-bit RGBA PNG.
 *
 * @example
 * ```ts
 * const r = new Raster(64, 32);
 * await Deno.writeFile("x.png", encodePng(r));
 * ```
 */
export function encodePng(raster: Raster): Uint8Array {
  const png = new PNG({ width: raster.width, height: raster.height });
  png.data.set(raster.data);
  const buf = PNG.sync.write(png);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decodes a PNG into width, height and RGBA bytes (8 bits per channel). */
export function decodePng(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const png = PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
}
