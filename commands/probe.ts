/**
 * `atst probe`: linear evaluation of embeddings on a labeled set (spec
 * section 5). Flags and wiring only; the work is in lib/probe/.
 *
 * @module
 */
import { resolve } from "node:path";
import { choice, num, parseFlags, str } from "../lib/cli/args.ts";
import { UserError } from "../lib/errors.ts";
import { Progress } from "../lib/io/progress.ts";
import { writeText } from "../lib/io/text_sink.ts";
import { BACKENDS, useBackend } from "../lib/backend/backend.ts";
import { readLabeledSet } from "../lib/probe/labeled_set.ts";
import { readEmbeddings } from "../lib/probe/embeddings.ts";
import { chooseGemm } from "../lib/probe/gemm.ts";
import { protocolConfig, PROTOCOLS } from "../lib/probe/protocols.ts";
import { evaluateProbe } from "../lib/probe/evaluate.ts";
import { checkFolds, planFolds } from "../lib/probe/splits.ts";
import { buildReport, formatTable, predictionsCsv } from "../lib/probe/report.ts";
import { isStrongLabelHeader } from "../lib/probe/events/strong_labels.ts";
import { DEFAULT_MEDIAN_MS, DEFAULT_THRESHOLD } from "../lib/probe/events/post_processing.ts";
import { DEFAULT_BUFFER_MB } from "../lib/probe/events/frame_stream.ts";

const HELP = `atst probe: linear evaluation of embeddings on a labeled set

Usage: atst probe LABELS (--embeddings DIR|FILE.jsonl | --model CKPT) [flags]
       atst probe EVENTS.tsv (--embeddings DIR|FILE.jsonl | --model CKPT) [flags]

LABELS is a CSV with a header 'path,label' (several labels as 'a;b' make a
multi-label task) and optional 'split' (train/valid/test) and 'fold'
columns, or a folder DIR/<label>/<audio> (or DIR/<split>/<label>/<audio>).
Paths in a CSV are relative to the CSV's folder.

EVENTS.tsv (sound event detection, picked by its header or --task events)
holds strong labels in the DCASE layout: tab-separated 'filename onset
offset event_label' (seconds), one row per event, a row with empty onset,
offset and label for a file without events, optional 'split' and 'fold'
columns; filenames are relative to the TSV's folder or to --audio DIR. The
embeddings are frames ('atst embed --frames', or --model in frame mode).
A frame's target is 1 for a class when its centre lies inside an event of
that class; one linear layer on every frame (same protocol and splits as
for clips, sigmoid + binary cross-entropy, best epoch by validation frame
mAP); frames at or above --threshold (0.5), a median filter of --median-ms
(280 ms, rounded to an odd number of frames: 7 at 40 ms), and each active
run becomes an event between frame boundaries. Metrics (sed_eval):
segment-based F1 and error rate (1 s segments), event-based F1 (onset collar
200 ms, offset collar max(200 ms, 20 % of the length), micro and macro),
onset-only event F1 (200 ms, as HEAR reports DCASE 2016 task 2) and
frame-level mAP; per fold, mean and std.
Memory does not grow with the number of files: frames are read from disk
(the npy folder, the --model cache, or a temporary copy of a jsonl file or
of --no-cache frames) one file at a time. Training holds at most
--buffer-mb of frames; when a fold's train frames fit they are read once,
otherwise every epoch reads the files in a seeded order, a buffer at a time,
shuffled within the buffer. Validation and test are scored file by file;
only one probability and target per frame and class stay (for frame mAP).

Splits: with a 'fold' column each fold is test once, the next fold is
validation, the rest train; mean and std over folds are reported. With a
'split' column, a missing validation split is a seeded stratified 10 % of
train. With neither, a seeded stratified 80/10/10 split.

Flags:
  --embeddings SRC   outputs of 'atst embed': a folder of <path>.npy clip
                     embeddings, or a --format jsonl file
  --model CKPT       compute clip embeddings with this checkpoint instead
  --cache DIR        embedding cache for --model (default .atst-cache in the
                     current folder; one .npy per model, settings and file
                     content, so renamed files are not embedded again)
  --no-cache         neither read nor write the cache
  --protocol P       reference (default; spec 5: BatchNorm, SGD, cosine,
                     100 epochs, best validation epoch) or evar (train
                     standardisation, Adam, early stopping)
  --task T           auto (default: events for a strong-label TSV header,
                     else multi-label if any row has several labels),
                     single, multi or events
  --audio DIR        events: audio filenames are relative to DIR (default:
                     the TSV's folder)
  --threshold P      events: frame probability threshold (default ${DEFAULT_THRESHOLD})
  --median-ms MS     events: median filter length (default ${DEFAULT_MEDIAN_MS}; 0 = none)
  --buffer-mb MB     events: memory for the train frames held at once
                     (default ${DEFAULT_BUFFER_MB}; 350 000 frames of 192 values)
  --epochs N         override the protocol's epochs (100 reference, 200 evar)
  --seed N           seed for splits, shuffles and init (default 0)
  --report FILE      write the JSON report here (default: stdout)
  --predictions FILE write per-file test predictions as CSV (events: the
                     predicted events of the test files as a DCASE TSV)
  --backend B        ${BACKENDS.join("|")} (default auto)
  --quiet            no progress lines
  -h, --help         this text

Examples:
  atst embed data/ --out emb/ && atst probe data/labels.csv --embeddings emb/
  atst probe esc50.csv --model atst_small.safetensors --report esc50.json
  atst probe data/ --embeddings emb.jsonl --protocol evar --predictions pred.csv
  atst embed --frames clips/ --model m.safetensors --out fr/ && atst probe events.tsv --embeddings fr/
  atst probe events.tsv --model m.safetensors --predictions pred.tsv --median-ms 0

Exit codes: 0 ok; 2 unusable labeled set or embeddings (unknown paths,
labels in valid/test absent from train, a single class, empty splits,
mismatched dimensions; events: onset >= offset, events past the end of the
audio), nothing written.`;

/** Runs `atst probe`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const t0 = performance.now();
  const { values, positionals, help } = parseFlags(args, {
    embeddings: { type: "string" },
    model: { type: "string" },
    cache: { type: "string" },
    "no-cache": { type: "boolean" },
    protocol: { type: "string" },
    task: { type: "string" },
    epochs: { type: "string" },
    seed: { type: "string" },
    report: { type: "string" },
    predictions: { type: "string" },
    backend: { type: "string" },
    quiet: { type: "boolean" },
    audio: { type: "string" },
    threshold: { type: "string" },
    "median-ms": { type: "string" },
    "buffer-mb": { type: "string" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UserError(
      `Expected one labeled set (CSV or folder), got ${positionals.length} (see 'atst probe --help')`,
    );
  }
  const embeddings = str(values, "embeddings");
  const model = str(values, "model");
  if ((embeddings === undefined) === (model === undefined)) {
    throw new UserError("Give exactly one of --embeddings or --model");
  }
  const protocol = choice(values, "protocol", PROTOCOLS, "reference");
  const task = choice(values, "task", ["auto", "single", "multi", "events"] as const, "auto");
  const epochsFlag = values.epochs === undefined
    ? undefined
    : num(values, "epochs", 0, { min: 1, integer: true });
  const seed = num(values, "seed", 0, { min: 0, integer: true });
  const reportPath = str(values, "report");
  const predPath = str(values, "predictions");
  if (reportPath && predPath && resolve(reportPath) === resolve(predPath)) {
    throw new UserError("--report and --predictions must be different files");
  }
  const quiet = values.quiet === true;
  const backendName = choice(values, "backend", BACKENDS, "auto");
  const common = { embeddings, model, protocol, epochsFlag, seed, reportPath, predPath, quiet };
  if (task === "events" || (task === "auto" && await looksLikeEvents(positionals[0]!))) {
    const events = await import("./_probe_events.ts");
    return events.runEvents(positionals[0]!, {
      ...common,
      backendName,
      audioDir: str(values, "audio"),
      threshold: num(values, "threshold", DEFAULT_THRESHOLD, { min: 0, max: 1 }),
      medianMs: num(values, "median-ms", DEFAULT_MEDIAN_MS, { min: 0 }),
      bufferMB: num(values, "buffer-mb", DEFAULT_BUFFER_MB, { min: 0.001 }),
      cache: values["no-cache"] === true ? null : str(values, "cache", ".atst-cache"),
      t0,
    });
  }
  for (const flag of ["audio", "threshold", "median-ms", "buffer-mb"]) {
    if (values[flag] !== undefined) {
      throw new UserError(`--${flag} applies to strong labels (--task events) only`);
    }
  }

  // Everything that can make the labeled set unusable is checked before any
  // backend or model is loaded, so a bad set costs one line and no time.
  const set = await readLabeledSet(positionals[0]!, { task });
  checkFolds(set, planFolds(set, { seed }));
  const tEmbed = performance.now();
  let table = embeddings !== undefined ? await readEmbeddings(embeddings, set.items) : undefined;
  const backend = await useBackend(backendName, { quiet });
  table ??= await (await import("../lib/probe/model_embeddings.ts")).embedWithModel(
    model!,
    set.items,
    {
      cache: values["no-cache"] === true ? null : str(values, "cache", ".atst-cache"),
      quiet,
    },
  );
  const embedSeconds = (performance.now() - tEmbed) / 1000;

  const cfg = protocolConfig(protocol, { epochs: epochsFlag, seed });
  const progress = foldProgress(cfg.epochs, !quiet);
  const tTrain = performance.now();
  const outcome = await evaluateProbe(set, table, cfg, {
    gemm: chooseGemm(new Set(set.items.flatMap((i) => i.labels)).size),
    onEpoch: progress.onEpoch,
  });
  progress.done();
  const trainSeconds = (performance.now() - tTrain) / 1000;

  const report = buildReport({
    tool: "atst probe",
    set,
    table,
    cfg,
    outcome,
    modelPath: model,
    backend,
    timing: { embedSeconds, trainSeconds, totalSeconds: (performance.now() - t0) / 1000 },
  });
  if (predPath) await writeText(predPath, predictionsCsv(set, outcome));
  await writeText(reportPath, JSON.stringify(report, null, 2) + "\n");
  console.error(formatTable(report));
  return 0;
}

/** True when `path` is a file whose first line is a strong-label TSV header. */
async function looksLikeEvents(path: string): Promise<boolean> {
  try {
    const file = await Deno.open(path);
    try {
      const buf = new Uint8Array(4096);
      const n = await file.read(buf);
      return n !== null && isStrongLabelHeader(new TextDecoder().decode(buf.subarray(0, n)));
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}

/** One progress line per fold, ticked once per epoch with the loss and validation score. */
export function foldProgress(epochs: number, enabled: boolean) {
  let progress: Progress | undefined;
  let current = "";
  return {
    onEpoch(fold: string, log: { loss: number; valid: number }): void {
      if (!enabled) return;
      if (fold !== current) {
        progress?.done();
        current = fold;
        progress = new Progress({
          label: fold === "split" ? "probe" : `probe fold ${fold}`,
          total: epochs,
          logEverySeconds: 15,
        });
      }
      progress!.tick(1, `loss ${log.loss.toFixed(4)} valid ${(100 * log.valid).toFixed(2)}`);
    },
    done: () => progress?.done(),
  };
}
