/**
 * `atst probe EVENTS.tsv`: the sound event detection branch of `atst
 * probe` (flags are parsed in probe.ts). Wiring only; the work is in
 * lib/probe/events/.
 *
 * @module
 */
import { resolve } from "node:path";
import { writeText } from "../lib/io/text_sink.ts";
import { type BackendName, useBackend } from "../lib/backend/backend.ts";
import { chooseGemm } from "../lib/probe/gemm.ts";
import { type Protocol, protocolConfig } from "../lib/probe/protocols.ts";
import { readStrongLabels } from "../lib/probe/events/strong_labels.ts";
import {
  frameEmbeddingsWithModel,
  readFrameEmbeddings,
} from "../lib/probe/events/frame_embeddings.ts";
import { evaluateEvents, planEventFolds } from "../lib/probe/events/evaluate_events.ts";
import {
  buildEventReport,
  formatEventTable,
  predictionsTsv,
} from "../lib/probe/events/event_report.ts";
import { foldProgress } from "./probe.ts";

/** The resolved flags of an events run. */
export interface EventRunFlags {
  embeddings?: string;
  model?: string;
  protocol: Protocol;
  epochsFlag?: number;
  seed: number;
  reportPath?: string;
  predPath?: string;
  quiet: boolean;
  backendName: BackendName;
  audioDir?: string;
  threshold: number;
  medianMs: number;
  /** Memory for the train frames held at once (MB). */
  bufferMB: number;
  cache: string | null;
  /** performance.now() when the command started. */
  t0: number;
}

/** Runs the events probe on the strong labels at `tsv`; returns the exit code. */
export async function runEvents(tsv: string, f: EventRunFlags): Promise<number> {
  // As for clips, an unusable set costs one line before any model is loaded.
  const set = await readStrongLabels(tsv, { audioDir: f.audioDir && resolve(f.audioDir) });
  planEventFolds(set, f.seed);
  const tEmbed = performance.now();
  let table = f.embeddings !== undefined
    ? await readFrameEmbeddings(f.embeddings, set.files)
    : undefined;
  try {
    const backend = await useBackend(f.backendName, { quiet: f.quiet });
    table ??= await frameEmbeddingsWithModel(f.model!, set.files, {
      cache: f.cache,
      quiet: f.quiet,
    });
    const embedSeconds = (performance.now() - tEmbed) / 1000;
    const cfg = protocolConfig(f.protocol, { epochs: f.epochsFlag, seed: f.seed });
    const progress = foldProgress(cfg.epochs, !f.quiet);
    const tTrain = performance.now();
    const outcome = await evaluateEvents(set, table, cfg, {
      threshold: f.threshold,
      medianMs: f.medianMs,
      bufferMB: f.bufferMB,
      gemm: chooseGemm(set.classes.length),
      onEpoch: progress.onEpoch,
    });
    progress.done();
    const report = buildEventReport({
      tool: "atst probe",
      set,
      table,
      cfg,
      outcome,
      modelPath: f.model,
      backend,
      timing: {
        embedSeconds,
        trainSeconds: (performance.now() - tTrain) / 1000,
        totalSeconds: (performance.now() - f.t0) / 1000,
      },
    });
    if (f.predPath) await writeText(f.predPath, predictionsTsv(set, outcome));
    await writeText(f.reportPath, JSON.stringify(report, null, 2) + "\n");
    console.error(formatEventTable(report));
  } finally {
    // Temporary copies (jsonl input, --no-cache) go, whatever happened.
    await table?.close();
  }
  return 0;
}
