/**
 * A generated strong-label set for the events probe: 16 kHz clips of
 * low-passed noise with synthetic sound events at known, seeded times
 * (`beep`: a steady tone, `chirp`: a rising sweep, `burst`: a high-passed
 * noise burst), the DCASE TSV of their events with a `fold` column, and the
 * log-mel frame baseline (lib/probe/events/logmel_frames.ts) written in the
 * `atst embed --frames` npy layout, so that both the encoder and the
 * baseline are probed by the same command.
 *
 * Usage: deno run -A tools/event_set.ts OUT_DIR [--files 50] [--seconds 8] [--seed 1]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../lib/rng.ts";
import { writeNpyResult } from "../lib/embed/format.ts";
import { logMelFrames } from "../lib/probe/events/logmel_frames.ts";
import { eventsTsv, type SoundEvent } from "../lib/probe/events/strong_labels.ts";
import { floatWav } from "../lib/io/wav.ts";

const RATE = 16000;

/** The event classes of the generated set. */
export const EVENT_CLASSES = ["beep", "burst", "chirp"] as const;

/** Options for {@link writeEventSet}. */
export interface EventSetOptions {
  files: number;
  seconds: number;
  seed: number;
  /** Folds in the TSV (files are dealt round-robin); 0 for no fold column. */
  folds: number;
}

function sound(label: string, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  const amp = rng.uniform(0.08, 0.25);
  const f0 = rng.uniform(600, 2400);
  let hp = 0, prev = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    // 10 ms raised-cosine fades: no clicks at the edges.
    const fade = Math.min(1, i / 160, (n - 1 - i) / 160);
    let v: number;
    if (label === "beep") v = Math.sin(2 * Math.PI * f0 * t);
    else if (label === "chirp") {
      v = Math.sin(2 * Math.PI * (300 * t + 0.5 * 3000 * t * t / (n / RATE)));
    } else {
      const w = rng.normal();
      hp = 0.9 * (hp + w - prev); // first-order high-pass: energy above about 2.5 kHz
      prev = w;
      v = 0.6 * hp;
    }
    out[i] = amp * fade * v;
  }
  return out;
}

/** Events of one file: 0-3 per class, no two of one class overlapping, 0.3-1.5 s long. */
function drawEvents(seconds: number, rng: Rng): SoundEvent[] {
  const events: SoundEvent[] = [];
  if (rng.uniform() < 0.1) return events; // some files hold only background
  for (const label of EVENT_CLASSES) {
    const count = rng.int(0, 2);
    let t = rng.uniform(0, 0.4 * seconds);
    for (let k = 0; k < count; k++) {
      const len = rng.uniform(0.3, 1.5);
      if (t + len > seconds - 0.1) break;
      const onset = Math.round(t * 1000) / 1000;
      const offset = Math.round((t + len) * 1000) / 1000;
      events.push({ label, onset, offset });
      t = offset + rng.uniform(0.3, 2.5);
    }
  }
  return events.sort((a, b) => a.onset - b.onset);
}

/**
 * Writes `dir/audio/NNN.wav`, `dir/events.tsv` and the baseline frames
 * `dir/logmel/audio/NNN.npy` (+ `.times.npy`); returns the TSV's path.
 *
 * @example
 * ```ts
 * const tsv = await writeEventSet("/tmp/ev", { files: 20, seconds: 6, seed: 1, folds: 0 });
 * ```
 */
export async function writeEventSet(dir: string, opts: EventSetOptions): Promise<string> {
  const rng = new Rng(opts.seed);
  await Deno.mkdir(join(dir, "audio"), { recursive: true });
  const rows: { path: string; events: SoundEvent[]; fold?: number }[] = [];
  for (let i = 0; i < opts.files; i++) {
    const n = Math.round(opts.seconds * RATE);
    const x = new Float32Array(n);
    let lp = 0;
    for (let k = 0; k < n; k++) {
      lp = 0.95 * lp + 0.05 * rng.normal(); // low-passed background noise
      x[k] = 0.25 * lp;
    }
    const events = drawEvents(opts.seconds, rng);
    for (const e of events) {
      const start = Math.round(e.onset * RATE);
      const s = sound(e.label, Math.round(e.offset * RATE) - start, rng);
      for (let k = 0; k < s.length; k++) x[start + k]! += s[k]!;
    }
    const rel = `audio/${String(i).padStart(3, "0")}.wav`;
    await Deno.writeFile(join(dir, rel), floatWav(x));
    rows.push({ path: rel, events, fold: opts.folds > 0 ? 1 + (i % opts.folds) : undefined });
    await writeNpyResult(join(dir, "logmel"), {
      file: { path: rel, rel },
      frames: logMelFrames(x),
      seconds: opts.seconds,
    });
  }
  const tsvPath = join(dir, "events.tsv");
  await Deno.writeTextFile(tsvPath, eventsTsv(rows));
  return tsvPath;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      files: { type: "string", default: "50" },
      seconds: { type: "string", default: "8" },
      seed: { type: "string", default: "1" },
      folds: { type: "string", default: "5" },
    },
  });
  if (positionals.length !== 1) {
    console.error("Usage: deno run -A tools/event_set.ts OUT_DIR [--files N] [--seconds S]");
    Deno.exit(2);
  }
  const tsv = await writeEventSet(positionals[0]!, {
    files: Number(values.files),
    seconds: Number(values.seconds),
    seed: Number(values.seed),
    folds: Number(values.folds),
  });
  console.log(tsv);
}
