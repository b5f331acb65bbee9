/**
 * The demo's event-detection step: where speech starts and stops in long
 * mixtures of the labeled clips (lib/demo/mixtures.ts). It writes the
 * mixtures and their DCASE TSV, embeds the frames with the first seed's
 * pre-trained encoder (`atst embed --frames`), computes the log-mel frame
 * baseline in-process (as tools/event_set.ts does), runs `atst probe` on the
 * TSV with both and draws true against predicted activity for two files.
 *
 * Layout under the output folder:
 * ```
 * events/audio/NNN.wav                 the mixtures
 * events/events.tsv                    filename onset offset event_label fold
 * embeddings/events/{logmel,pretrained}/   frames (.npy, .times.npy)
 * probe/events/{logmel,pretrained}.json    probe reports; .pred.tsv: predicted events
 * sed.png
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { writeNpyResult } from "../embed/format.ts";
import { logMelFrames } from "../probe/events/logmel_frames.ts";
import { eventsTsv } from "../probe/events/strong_labels.ts";
import { activityFigure, type ActivityPanel } from "./activity.ts";
import { levelCurve, loadTrimmed, mixClips, SPEECH } from "./mixtures.ts";
import { pcm16Wav } from "../io/wav.ts";
import { PALETTE } from "./plot.ts";
import { encodePng } from "./png.ts";
import { flags } from "./_run.ts";
import type { EventMethodResult, EventScores, EventsSummary } from "./report.ts";
import type { DemoData } from "./steps.ts";

/** Mixtures per run: 25 of 24 s (10 minutes of audio); `--quick`: 6 of 10 s. */
export const EVENT_SIZES = {
  full: { files: 25, seconds: 24 },
  quick: { files: 6, seconds: 10 },
} as const;

/** Files drawn in sed.png (the first ones; each is a test file of one fold). */
const SHOWN = 2;

/** The pipeline's stage runner: times `fn`, records its outputs and command lines. */
export type Stage = <T>(
  name: string,
  fn: () => Promise<{ value: T; outputs: string[]; commands?: string[][] }>,
) => Promise<T>;

/** What the step needs from the demo run. */
export interface EventsStepOptions {
  out: string;
  quick: boolean;
  folds: number;
  seed: number;
  probeEpochs: number;
  backend: string;
  /** The encoder whose frames are probed. */
  model: string;
  /** Runs `atst <args>`. */
  atst: (args: string[]) => Promise<unknown>;
  stage: Stage;
  /** A path relative to the output folder. */
  rel: (p: string) => string;
}

const METHODS = [
  { key: "logmel", name: "log-mel, mean of 4 mel frames per 40 ms" },
  { key: "pretrained", name: "encoder, pre-trained" },
] as const;

/** Reads the dim and the mean and std over folds of an `atst probe` events report. */
export async function readEventProbe(
  path: string,
): Promise<{ dim: number; mean: EventScores; std: EventScores }> {
  const r = JSON.parse(await Deno.readTextFile(path)) as {
    task?: string;
    embeddings?: { dim?: number };
    mean?: Record<string, number>;
    std?: Record<string, number>;
  };
  const keys = ["segmentF1", "segmentER", "eventF1", "onsetF1", "frameMAP"] as const;
  const pick = (o: Record<string, number> | undefined) => {
    if (!o || keys.some((k) => typeof o[k] !== "number")) return undefined;
    return Object.fromEntries(keys.map((k) => [k, o[k]!])) as unknown as EventScores;
  };
  const [mean, std] = [pick(r.mean), pick(r.std)];
  if (r.task !== "events" || typeof r.embeddings?.dim !== "number" || !mean || !std) {
    throw new Error(`Probe report '${path}' is not an events report with mean and std metrics`);
  }
  return { dim: r.embeddings.dim, mean, std };
}

/** The events of `path` in a DCASE TSV (rows with empty fields, files without events, skipped). */
export function intervalsOf(tsv: string, path: string): [number, number][] {
  return tsv.split(/\r?\n/).slice(1).map((l) => l.split("\t"))
    .filter((r) => r[0] === path && r[1] !== "" && r[2] !== "" && r[1] !== undefined)
    .map((r) => [Number(r[1]), Number(r[2])] as [number, number]);
}

/**
 * Runs the step's four stages (`events-mix`, `events-embed`,
 * `events-probe`, `events-plot`); returns the summary for report.json and
 * the path of sed.png.
 */
export async function runEventsStep(
  data: DemoData,
  opts: EventsStepOptions,
): Promise<{ summary: EventsSummary; plot: string }> {
  const { out, stage } = opts;
  const size = opts.quick ? EVENT_SIZES.quick : EVENT_SIZES.full;
  const dir = join(out, "events"), tsv = join(dir, "events.tsv");
  const frames = (key: string) => join(out, "embeddings", "events", key);
  const report = (key: string) => join(out, "probe", "events", `${key}.json`);
  const pred = (key: string) => join(out, "probe", "events", `${key}.pred.tsv`);
  const name = (i: number) => `audio/${String(i).padStart(3, "0")}.wav`;

  const mixtures = await stage("events-mix", async () => {
    const clips = await loadTrimmed(data.labeledPaths);
    const mixes = mixClips(clips, { ...size, seed: opts.seed });
    const files = mixes.map((m, i) => ({
      path: name(i),
      events: m.events,
      fold: 1 + (i % opts.folds),
    }));
    for (const [i, m] of mixes.entries()) {
      await writeFileAtomic(join(dir, name(i)), pcm16Wav(m.samples));
      await writeNpyResult(frames("logmel"), {
        file: { path: name(i), rel: name(i) },
        frames: logMelFrames(m.samples),
        seconds: size.seconds,
      });
    }
    await writeFileAtomic(tsv, eventsTsv(files));
    return { value: mixes, outputs: [join(dir, "audio"), tsv, frames("logmel")] };
  });

  await stage("events-embed", async () => {
    const args = ["embed", join(dir, "audio"), "--frames", "--model", opts.model];
    args.push(...flags({ out: frames("pretrained"), backend: opts.backend }), "--quiet");
    await opts.atst(args);
    return { value: undefined, outputs: [frames("pretrained")], commands: [args] };
  });

  const results = await stage("events-probe", async () => {
    const commands = METHODS.map((m) => [
      "probe",
      tsv,
      "--embeddings",
      frames(m.key),
      ...flags({ epochs: opts.probeEpochs, seed: opts.seed, report: report(m.key) }),
      ...flags({ predictions: pred(m.key), backend: opts.backend }),
      "--quiet",
    ]);
    const results: EventMethodResult[] = [];
    for (const [i, m] of METHODS.entries()) {
      await opts.atst(commands[i]!);
      const r = await readEventProbe(report(m.key));
      const which = m.key === "pretrained" ? ` (seed ${opts.seed})` : "";
      results.push({
        key: m.key,
        name: m.name + which,
        ...r,
        report: opts.rel(report(m.key)),
        predictions: opts.rel(pred(m.key)),
      });
    }
    return {
      value: results,
      outputs: METHODS.flatMap((m) => [report(m.key), pred(m.key)]),
      commands,
    };
  });

  const plot = await stage("events-plot", async () => {
    const predicted = await Promise.all(METHODS.map((m) => Deno.readTextFile(pred(m.key))));
    const panels: ActivityPanel[] = mixtures.slice(0, SHOWN).map((m, i) => ({
      title: `${name(i)} (test file of fold ${1 + (i % opts.folds)})`,
      seconds: size.seconds,
      lanes: [
        { name: "level", color: [110, 110, 110], curve: levelCurve(m.samples), stepS: 0.04 },
        { name: "true", color: [40, 40, 40], intervals: m.events.map((e) => [e.onset, e.offset]) },
        { name: "log-mel", color: PALETTE[1]!, intervals: intervalsOf(predicted[0]!, name(i)) },
        { name: "encoder", color: PALETTE[0]!, intervals: intervalsOf(predicted[1]!, name(i)) },
      ],
    }));
    const png = join(out, "sed.png");
    const title = `Where speech is: true vs predicted (probe on frames, seed ${opts.seed})`;
    await writeFileAtomic(png, encodePng(activityFigure(panels, title)));
    return { value: png, outputs: [png] };
  });

  return {
    summary: {
      ...size,
      label: SPEECH,
      folds: opts.folds,
      seed: opts.seed,
      events: mixtures.reduce((s, m) => s + m.events.length, 0),
      tsv: opts.rel(tsv),
      results,
      shown: mixtures.slice(0, SHOWN).map((_, i) => name(i)),
    },
    plot: opts.rel(plot),
  };
}
