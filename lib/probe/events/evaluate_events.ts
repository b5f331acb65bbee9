/**
 * Frame-level linear evaluation of a strong-label set: the clip probe's
 * folds (splits.ts, same seeded default split), one linear layer applied to
 * every frame (linear.ts, sigmoid + binary cross-entropy, best epoch by
 * frame mAP on validation), decoding (post_processing.ts) and the
 * sed_eval metrics (sed_metrics.ts) on the test files of every fold.
 *
 * @module
 */
import { UserError } from "../../errors.ts";
import { foldMeanStd } from "../evaluate.ts";
import type { Gemm } from "../gemm.ts";
import { type EpochLog, fitLinear, predictProbe, type ProbeData } from "../linear.ts";
import { multiLabelMetrics } from "../metrics.ts";
import type { ProbeConfig } from "../protocols.ts";
import { type FoldPlan, planFolds } from "../splits.ts";
import type { FrameTable } from "./frame_embeddings.ts";
import { checkEventsInside, frameTargets } from "./frame_targets.ts";
import { decodeEvents, medianFramesFor, type PostProcessing } from "./post_processing.ts";
import {
  DCASE_EVENT_RULES,
  eventMetrics,
  type FilePair,
  ONSET_ONLY_RULES,
  segmentMetrics,
} from "./sed_metrics.ts";
import { asLabeledSet, type EventSet, type SoundEvent } from "./strong_labels.ts";

/** Test metrics of one fold (fractions; error rate may exceed 1). */
export interface EventTestMetrics {
  /** Segment-based micro F1, 1 s segments. */
  segmentF1: number;
  /** Segment-based error rate, 1 s segments. */
  segmentER: number;
  /** Event-based micro F1, 200 ms onset collar, offset max(200 ms, 20 %). */
  eventF1: number;
  /** The same, macro over classes. */
  eventMacroF1: number;
  /** Onset-only event F1, 200 ms collar (HEAR, DCASE 2016 task 2). */
  onsetF1: number;
  /** Frame-level macro average precision. */
  frameMAP: number;
}

/** The outcome of one fold. */
export interface EventFoldResult {
  fold: string;
  validFrom: FoldPlan["validFrom"];
  /** Files per role. */
  counts: { train: number; valid: number; test: number };
  /** Frames per role. */
  frames: { train: number; valid: number; test: number };
  bestEpoch: number;
  epochsRun: number;
  /** Frame mAP on validation at the best epoch. */
  valid: number;
  test: EventTestMetrics;
  seconds: number;
}

/** Everything an events probe run produces. */
export interface EventOutcome {
  classes: string[];
  postProcessing: PostProcessing & { medianMs: number; hopMs: number };
  folds: EventFoldResult[];
  mean: Record<string, number>;
  /** Population standard deviation over folds (0 for one split). */
  std: Record<string, number>;
  /** Predicted events of every test file (file index into the set). */
  predictions: { file: number; fold: string; events: SoundEvent[] }[];
}

/** Options for {@link evaluateEvents}. */
export interface EvaluateEventsOptions {
  /** Frame probability threshold (default 0.5). */
  threshold: number;
  /** Median filter length in ms, rounded to an odd number of frames (default 280). */
  medianMs: number;
  gemm?: Gemm;
  onEpoch?: (fold: string, log: EpochLog) => void;
}

/**
 * The folds of an event set, after checking that no split is empty and
 * that every label in validation or test also occurs in train (one line
 * naming the TSV row otherwise).
 */
export function planEventFolds(set: EventSet, seed: number): FoldPlan[] {
  const folds = planFolds(asLabeledSet(set), { seed });
  for (const f of folds) {
    const where = f.name === "split" ? "" : ` of fold ${f.name}`;
    for (const [role, idx] of [["train", f.train], ["validation", f.valid], ["test", f.test]]) {
      if (!(idx as number[]).length) {
        throw new UserError(`Strong labels '${set.source}': the ${role} split${where} is empty`);
      }
    }
    const seen = new Set(f.train.flatMap((i) => set.files[i]!.events.map((e) => e.label)));
    for (const [role, idx] of [["validation", f.valid], ["test", f.test]] as const) {
      for (const i of idx) {
        const bad = set.files[i]!.events.find((e) => !seen.has(e.label));
        if (bad) {
          throw new UserError(
            `Strong labels '${set.source}' line ${bad.line}: label '${bad.label}' of '${
              set.files[i]!.path
            }' is in ${role}${where} but not in train`,
          );
        }
      }
    }
  }
  return folds;
}

function gather(set: EventSet, table: FrameTable, idx: number[]): ProbeData {
  const { dim } = table;
  const C = set.classes.length;
  const n = idx.reduce((s, i) => s + table.files[i]!.frames, 0);
  const x = new Float32Array(n * dim);
  const y = new Float32Array(n * C);
  let row = 0;
  for (const i of idx) {
    const f = table.files[i]!;
    x.set(f.data, row * dim);
    y.set(frameTargets(set.files[i]!.events, f.timesMs, set.classes), row * C);
    row += f.frames;
  }
  return { x, y, n };
}

/** Median spacing of the first file's frame times (ms). */
function hopOf(table: FrameTable): number {
  const t = table.files[0]!.timesMs;
  if (t.length < 2) return 40;
  const d = Array.from({ length: t.length - 1 }, (_, k) => t[k + 1]! - t[k]!).sort((a, b) => a - b);
  return d[d.length >> 1]!;
}

/**
 * Runs the frame probe on every fold of `set` with frame embeddings
 * `table` (files in set order). Throws UserError for an unusable set.
 *
 * @example
 * ```ts
 * const set = await readStrongLabels("events.tsv");
 * const table = await readFrameEmbeddings("emb/", set.files);
 * const out = await evaluateEvents(set, table, protocolConfig("reference"), { threshold: 0.5, medianMs: 280 });
 * console.log(out.mean.eventF1);
 * ```
 */
export async function evaluateEvents(
  set: EventSet,
  table: FrameTable,
  cfg: ProbeConfig,
  opts: EvaluateEventsOptions,
): Promise<EventOutcome> {
  checkEventsInside(set.source, set.files, table.files.map((f) => f.timesMs));
  const folds = planEventFolds(set, cfg.seed);
  const { classes } = set;
  const C = classes.length;
  const hopMs = hopOf(table);
  const pp = { threshold: opts.threshold, medianFrames: medianFramesFor(opts.medianMs, hopMs) };
  const results: EventFoldResult[] = [];
  const predictions: EventOutcome["predictions"] = [];
  for (const f of folds) {
    const t0 = performance.now();
    const [train, valid] = [gather(set, table, f.train), gather(set, table, f.valid)];
    const fit = await fitLinear(
      { train, valid, dim: table.dim, classes: C, multiLabel: true },
      cfg,
      { gemm: opts.gemm, onEpoch: (log) => opts.onEpoch?.(f.name, log) },
    );
    const pairs: FilePair[] = [];
    const scores: Float32Array[] = [];
    const targets: Float32Array[] = [];
    for (const i of f.test) {
      const frames = table.files[i]!;
      const p = await predictProbe(fit.probe, frames.data, frames.frames, opts.gemm); // [frames, C]
      scores.push(p);
      targets.push(frameTargets(set.files[i]!.events, frames.timesMs, classes));
      const events = decodeEvents(p, frames.timesMs, classes, pp);
      pairs.push({ reference: set.files[i]!.events, estimated: events });
      predictions.push({ file: i, fold: f.name, events });
    }
    const seg = segmentMetrics(pairs, classes);
    const ev = eventMetrics(pairs, DCASE_EVENT_RULES);
    const test: EventTestMetrics = {
      segmentF1: seg.f1,
      segmentER: seg.errorRate,
      eventF1: ev.f1,
      eventMacroF1: ev.macroF1,
      onsetF1: eventMetrics(pairs, ONSET_ONLY_RULES).f1,
      frameMAP: multiLabelMetrics(concat(scores), concat(targets), C).mAP,
    };
    results.push({
      fold: f.name,
      validFrom: f.validFrom,
      counts: { train: f.train.length, valid: f.valid.length, test: f.test.length },
      frames: {
        train: train.n,
        valid: valid.n,
        test: scores.reduce((s, p) => s + p.length / C, 0),
      },
      bestEpoch: fit.bestEpoch,
      epochsRun: fit.epochsRun,
      valid: fit.bestValid,
      test,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  const { mean, std } = foldMeanStd(results.map((r) => ({ ...r.test })));
  return {
    classes,
    postProcessing: { ...pp, medianMs: opts.medianMs, hopMs },
    folds: results,
    mean,
    std,
    predictions,
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
