/**
 * Frame-level linear evaluation of a strong-label set: the clip probe's
 * folds (splits.ts, same seeded default split), one linear layer applied to
 * every frame (linear.ts, sigmoid + binary cross-entropy, best epoch by
 * frame mAP on validation), decoding (post_processing.ts) and the
 * sed_eval metrics (sed_metrics.ts) on the test files of every fold.
 *
 * Memory does not grow with the number of files beyond a few values per
 * frame: embeddings are read from disk one file at a time; training holds
 * at most a `bufferMB` pool of frames (frame_stream.ts); validation and test
 * are scored file by file, keeping one probability and one target per frame
 * and class (frame mAP ranks all of them) and the decoded events.
 *
 * @module
 */
import { UserError } from "../../errors.ts";
import { foldMeanStd } from "../evaluate.ts";
import type { Gemm } from "../gemm.ts";
import {
  type EpochLog,
  type FitResult,
  fitStreamed,
  type LinearProbe,
  predictProbe,
} from "../linear.ts";
import { multiLabelMetrics } from "../metrics.ts";
import type { ProbeConfig } from "../protocols.ts";
import { type FoldPlan, planFolds } from "../splits.ts";
import type { FrameTable } from "./frame_embeddings.ts";
import { checkEventsInside } from "./frame_targets.ts";
import {
  DEFAULT_BUFFER_MB,
  type FoldFiles,
  HeldFrames,
  loadLabeledFile,
  StreamedFrames,
} from "./frame_stream.ts";
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
  /** True when the train frames exceeded the buffer and were read from disk every epoch. */
  streamed: boolean;
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
  /**
   * The frame buffer (`--buffer-mb`, in frames of dim + classes float32
   * values) and the most embedding frames held at once: train pool, one
   * batch and one file being read, or one validation or test file.
   */
  memory: { bufferMB: number; bufferFrames: number; peakFrames: number };
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
  /** Memory for the train frames held at once, MB (default {@link DEFAULT_BUFFER_MB}). */
  bufferMB?: number;
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

/**
 * Runs the frame probe on every fold of `set` with frame embeddings
 * `table` (files in set order). Throws UserError for an unusable set.
 *
 * @example
 * ```ts
 * const set = await readStrongLabels("events.tsv");
 * const table = await readFrameEmbeddings("emb/", set.files);
 * const out = await evaluateEvents(set, table, protocolConfig("reference"), { threshold: 0.5, medianMs: 280 });
 * console.log(out.mean.eventF1, out.memory.peakFrames);
 * await table.close();
 * ```
 */
export async function evaluateEvents(
  set: EventSet,
  table: FrameTable,
  cfg: ProbeConfig,
  opts: EvaluateEventsOptions,
): Promise<EventOutcome> {
  checkEventsInside(set.source, set.files, table.files.map((f) => f.tailMs));
  const folds = planEventFolds(set, cfg.seed);
  const { classes } = set;
  const C = classes.length;
  const hopMs = table.hopMs;
  const pp = { threshold: opts.threshold, medianFrames: medianFramesFor(opts.medianMs, hopMs) };
  const bufferMB = opts.bufferMB ?? DEFAULT_BUFFER_MB;
  const bufferFrames = Math.max(1, Math.floor(bufferMB * 2 ** 20 / (4 * (table.dim + C))));
  const held = new HeldFrames();
  const results: EventFoldResult[] = [];
  const predictions: EventOutcome["predictions"] = [];
  const role = (files: number[]) => ({ set, table, files, held });
  for (const f of folds) {
    const t0 = performance.now();
    const train = new StreamedFrames(role(f.train), { bufferFrames, seed: cfg.seed });
    // Validation is read once too when it fits in the buffer beside resident train frames.
    const keepValid = train.resident && train.n + framesOf(table, f.valid) <= bufferFrames;
    const valid = scoreFiles(role(f.valid), keepValid);
    let fit: FitResult;
    try {
      fit = await fitStreamed(
        {
          train,
          validMetric: async (probe) => (await valid(probe, opts.gemm)).mAP,
          dim: table.dim,
          classes: C,
          multiLabel: true,
        },
        cfg,
        { gemm: opts.gemm, onEpoch: (log) => opts.onEpoch?.(f.name, log) },
      );
    } finally {
      train.dispose();
      valid.release();
    }
    const pairs: FilePair[] = [];
    const test = scoreFiles(role(f.test));
    const { mAP, frames } = await test(fit.probe, opts.gemm, (i, p, timesMs) => {
      const events = decodeEvents(p, timesMs, classes, pp);
      pairs.push({ reference: set.files[i]!.events, estimated: events });
      predictions.push({ file: i, fold: f.name, events });
    });
    const seg = segmentMetrics(pairs, classes);
    const ev = eventMetrics(pairs, DCASE_EVENT_RULES);
    results.push({
      fold: f.name,
      validFrom: f.validFrom,
      counts: { train: f.train.length, valid: f.valid.length, test: f.test.length },
      frames: { train: train.n, valid: valid.frames, test: frames },
      streamed: !train.resident,
      bestEpoch: fit.bestEpoch,
      epochsRun: fit.epochsRun,
      valid: fit.bestValid,
      test: {
        segmentF1: seg.f1,
        segmentER: seg.errorRate,
        eventF1: ev.f1,
        eventMacroF1: ev.macroF1,
        onsetF1: eventMetrics(pairs, ONSET_ONLY_RULES).f1,
        frameMAP: mAP,
      },
      seconds: (performance.now() - t0) / 1000,
    });
  }
  const { mean, std } = foldMeanStd(results.map((r) => ({ ...r.test })));
  return {
    classes,
    postProcessing: { ...pp, medianMs: opts.medianMs, hopMs },
    memory: { bufferMB, bufferFrames, peakFrames: held.peak },
    folds: results,
    mean,
    std,
    predictions,
  };
}

/** Frames in files `idx` of `table`. */
function framesOf(table: FrameTable, idx: number[]): number {
  return idx.reduce((s, i) => s + table.files[i]!.frames, 0);
}

/**
 * Scores a probe on `files` one file at a time: frame mAP over all their
 * frames, each file's probabilities `[frames, classes]` handed to `each`
 * and then dropped. Targets are computed on the first call and kept (one
 * value per frame and class, as the mAP needs all scores at once). With
 * `keep`, the files read by the first call stay for the next ones (until
 * `release()`), instead of being read again every epoch.
 */
function scoreFiles(f: FoldFiles, keep = false) {
  const C = f.set.classes.length;
  const frames = framesOf(f.table, f.files);
  const targets = new Float32Array(frames * C); // [frames, C]
  const kept: Awaited<ReturnType<typeof loadLabeledFile>>[] = [];
  let haveTargets = false;
  const score = async (
    probe: LinearProbe,
    gemm?: Gemm,
    each?: (file: number, p: Float32Array, timesMs: Float64Array) => void,
  ) => {
    const scores = new Float32Array(frames * C); // [frames, C]
    let row = 0;
    for (const [j, i] of f.files.entries()) {
      const file = kept[j] ?? await loadLabeledFile(f, i);
      try {
        const p = await predictProbe(probe, file.data, file.frames, gemm); // [frames_i, C]
        scores.set(p, row * C);
        if (!haveTargets) targets.set(file.y, row * C);
        each?.(i, p, file.timesMs);
        row += file.frames;
      } finally {
        if (keep) kept[j] = file;
        else file.release();
      }
    }
    haveTargets = true;
    return { mAP: multiLabelMetrics(scores, targets, C).mAP, frames };
  };
  const release = () => kept.splice(0).forEach((k) => k.release());
  return Object.assign(score, { frames, release });
}
