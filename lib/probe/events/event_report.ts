/**
 * The events probe's outputs: the JSON report (one writer, here), the short
 * table for stderr, and the predicted events as a DCASE TSV.
 *
 * @module
 */
import type { ProbeConfig } from "../protocols.ts";
import { pct, provenance, REPORT_VERSION } from "../report.ts";
import type { EventOutcome } from "./evaluate_events.ts";
import type { FrameTable } from "./frame_embeddings.ts";
import { type EventSet, eventsTsv } from "./strong_labels.ts";

/** The JSON report of one events probe run. */
export interface EventReport {
  reportVersion: number;
  tool: string;
  task: "events";
  protocol: string;
  labeledSet: string;
  embeddings: { source: string; dim: number; files: number; frames: number };
  model: { sha256: string | null; path: string | null };
  backend: string;
  config: ProbeConfig;
  postProcessing: EventOutcome["postProcessing"];
  memory: EventOutcome["memory"];
  metrics: Record<string, string>;
  classes: string[];
  /** Reference events per class over the whole set. */
  eventCounts: Record<string, number>;
  folds: EventOutcome["folds"];
  mean: Record<string, number>;
  std: Record<string, number>;
  timing: { embedSeconds: number; trainSeconds: number; totalSeconds: number };
  createdAt: string;
}

const METRICS: Record<string, string> = {
  segmentF1: "sed_eval segment-based micro F1, 1 s segments",
  segmentER: "sed_eval segment-based error rate (S + D + I) / N_ref, 1 s segments",
  eventF1: "sed_eval event-based micro F1, onset collar 200 ms, offset collar max(200 ms, 20 %)",
  eventMacroF1: "the same, mean of per-class F1 over classes in the references or the estimates",
  onsetF1: "event-based micro F1, onsets within 200 ms (HEAR, DCASE 2016 task 2)",
  frameMAP: "frame-level macro average precision over classes with positive frames",
};

/** Assembles the report object (no I/O). */
export function buildEventReport(args: {
  tool: string;
  set: EventSet;
  table: FrameTable;
  cfg: ProbeConfig;
  outcome: EventOutcome;
  modelPath?: string;
  backend: string;
  timing: EventReport["timing"];
}): EventReport {
  const { set, table, outcome } = args;
  const eventCounts: Record<string, number> = Object.fromEntries(set.classes.map((c) => [c, 0]));
  for (const f of set.files) for (const e of f.events) eventCounts[e.label]!++;
  return {
    reportVersion: REPORT_VERSION,
    tool: args.tool,
    task: "events",
    protocol: args.cfg.protocol,
    labeledSet: set.source,
    embeddings: {
      source: table.source,
      dim: table.dim,
      files: table.files.length,
      frames: table.files.reduce((s, f) => s + f.frames, 0),
    },
    postProcessing: outcome.postProcessing,
    memory: outcome.memory,
    metrics: METRICS,
    classes: outcome.classes,
    eventCounts,
    folds: outcome.folds,
    mean: outcome.mean,
    std: outcome.std,
    ...provenance(table, args),
  };
}

/** A few lines for stderr: one row per fold, then the means. */
export function formatEventTable(r: EventReport): string {
  const cols = ["segF1", "segER", "evF1", "evMacro", "onsetF1", "frmAP"];
  const keys = [
    "segmentF1",
    "segmentER",
    "eventF1",
    "eventMacroF1",
    "onsetF1",
    "frameMAP",
  ] as const;
  const cell = (k: string, v: number | undefined) =>
    (k === "segmentER" ? (v ?? NaN).toFixed(2) : pct(v, 1)).padStart(8);
  const pp = r.postProcessing;
  const lines = [
    `probe events: ${r.protocol} protocol, ${r.classes.length} classes, ${r.embeddings.dim}-d frames every ${pp.hopMs} ms, threshold ${pp.threshold}, median ${pp.medianFrames} frames (F1 and mAP in %)`,
    `${"fold".padEnd(8)}${"files".padStart(12)}${"epoch".padStart(9)}${
      cols.map((c) => c.padStart(8)).join("")
    }`,
  ];
  for (const f of r.folds) {
    const files = `${f.counts.train}/${f.counts.valid}/${f.counts.test}`;
    lines.push(
      `${f.fold.slice(0, 8).padEnd(8)}${files.padStart(12)}${
        `${f.bestEpoch}/${f.epochsRun}`.padStart(9)
      }${keys.map((k) => cell(k, f.test[k])).join("")}`,
    );
  }
  lines.push(`${"mean".padEnd(29)}${keys.map((k) => cell(k, r.mean[k])).join("")}`);
  return lines.join("\n");
}

/** The predicted events of every test file as a DCASE TSV (files in set order). */
export function predictionsTsv(set: EventSet, outcome: EventOutcome): string {
  const rows = [...outcome.predictions].sort((a, b) => a.file - b.file);
  return eventsTsv(rows.map((p) => ({ path: set.files[p.file]!.path, events: p.events })));
}
