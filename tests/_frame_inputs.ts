/**
 * The shape of fixtures/frame/refs.json, written by tools/gen_frame_fixtures.py.
 *
 * @module
 */
import { fixture } from "./_helpers.ts";

/** Reference values of the ATST-Frame fixtures. */
export interface FrameRefs {
  batch: { lengths: number[]; seeds: number[]; width: number; mask: number[][] };
  a23: {
    seconds: number;
    seed: number;
    frames: number;
    chunks: [number, number][];
    tokens: number;
    scene: number[];
    authorsMs: number[];
    centresMs: number[];
  };
  widths: Record<string, { seed: number; tokens: number; scene: number[]; lastToken: number[] }>;
}

/** Reads fixtures/frame/refs.json. */
export function frameRefs(): FrameRefs {
  return JSON.parse(Deno.readTextFileSync(fixture("frame", "refs.json")));
}
