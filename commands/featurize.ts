/**
 * `atst featurize`: audio files -> ATST log-mel features, one [64, T]
 * float32 `.npy` per input (mirroring relative paths) or JSON Lines on
 * stdout. Flags and wiring only; the math is in lib/audio and lib/features.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { choice, num, parseFlags, str } from "../lib/cli/args.ts";
import { UserError } from "../lib/errors.ts";
import {
  expandInputs,
  type InputFile,
  parseShard,
  planOutputs,
  shard,
} from "../lib/audio/inputs.ts";
import { DEFAULT_MEL } from "../lib/features/mel.ts";
import { defaultJobs, featurizeFiles, writeFeaturesNpy } from "../lib/features/featurize_pool.ts";
import { jsonlHeader, jsonlRecord } from "../lib/features/features_jsonl.ts";
import { Progress } from "../lib/io/progress.ts";
import { openTextSink } from "../lib/io/text_sink.ts";

const HELP = `atst featurize: audio files -> ATST log-mel features

Usage: atst featurize IN... --out DIR [flags]
       atst featurize IN... --format jsonl > features.jsonl

Inputs (IN): audio files, folders (searched recursively for audio files,
sorted), @list.txt (one path per line), or - (paths read from stdin).
Formats are recognised from the bytes: WAV (8/16/24/32-bit int, 32/64-bit
float), AIFF, FLAC, MP3, Ogg Vorbis, Opus, AAC/M4A, WebM. Audio is mixed to
mono (mean of channels) and resampled to 16 kHz (torchaudio-compatible).

Output: 64 mel bands x T frames (T = 1 + floor(samples16k / 160), 10 ms hop),
float32, scaled to about [-1, 1] exactly as the ATST reference front end.

Flags:
  --out DIR          write DIR/<relative path>.npy per input ([64, T] float32);
                     a folder input's files keep their path below that folder,
                     a file input keeps its relative path (else its name)
  --format FMT       npy (default) or jsonl: one JSON object per file on stdout,
                     after one header line {"header":{version, mel config}};
                     records: {path, rel, sample_rate, source_rate, channels,
                     frames, n_mels, features: [64 rows of T numbers]}
  --skip-existing    do not recompute inputs whose .npy already exists
  --shard K/N        process only shard K of N (every N-th input from K)
  -j, --jobs N       decode and featurize on N worker threads (1 = this thread
                     only); output order and bits are the same for every N.
                     Default (also 0): one worker per 48 input files, at least
                     1 and at most one per CPU core, since starting a worker
                     costs about 0.2 s of CPU (7 files: 1; 200 files on 8
                     cores: 4)
  --quiet            no progress or summary on stderr (errors still shown)
  -h, --help         show this help

A bad input (missing, unreadable, empty, corrupt, not audio, unsupported
codec) is reported as one line on stderr; the others are still processed,
nothing is written for it, and the exit code is 1. Outputs are written
atomically (temporary file, then rename).

Examples:
  atst featurize clips/ --out feats/
  atst featurize a.wav b.mp3 --format jsonl > feats.jsonl
  find data -name '*.flac' | atst featurize - --out feats/ --skip-existing
  atst featurize @train.txt --out feats/ --shard 1/4 --jobs 4`;

/** Runs `atst featurize` and returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(args, {
    out: { type: "string", short: "o" },
    format: { type: "string" },
    "skip-existing": { type: "boolean" },
    shard: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    jobs: { type: "string", short: "j" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = choice(values, "format", ["npy", "jsonl"] as const, "npy");
  const outDir = str(values, "out");
  const quiet = values.quiet === true;
  const skipExisting = values["skip-existing"] === true;
  const [k, n] = parseShard(str(values, "shard"));
  const jobsFlag = num(values, "jobs", 0, { min: 0, max: 256, integer: true });
  if (positionals.length === 0) {
    throw new UserError("No inputs given (see 'atst featurize --help')");
  }
  if (format === "npy" && outDir === undefined) {
    throw new UserError("Flag --out DIR is required with --format npy");
  }
  if (format === "jsonl" && outDir !== undefined) {
    throw new UserError("Flag --out is not used with --format jsonl (records go to stdout)");
  }
  if (format === "jsonl" && skipExisting) {
    throw new UserError("Flag --skip-existing needs --format npy");
  }

  const expanded = await expandInputs(positionals);
  const files = shard(expanded.files, k, n);
  const plan = outDir === undefined
    ? { jobs: files as Array<InputFile & { out?: string }>, errors: [], skipped: 0 }
    : await planOutputs(files, outDir, { skipExisting });
  const errors = [...expanded.errors, ...plan.errors];
  const todo = plan.jobs;
  const progress = new Progress({
    label: "featurize",
    total: todo.length + plan.skipped,
    enabled: !quiet,
  });
  for (const e of errors) progress.log(e.message);
  progress.tick(plan.skipped);
  const stdout = format === "jsonl" ? await openTextSink() : undefined;
  await stdout?.write(jsonlHeader(denoJson.version, DEFAULT_MEL) + "\n");

  let written = 0;
  const results = featurizeFiles(todo.map((j) => j.path), {
    jobs: jobsFlag === 0 ? defaultJobs(todo.length) : jobsFlag,
    mel: DEFAULT_MEL,
  });
  for await (const r of results) {
    const job = todo[r.index]!;
    progress.tick();
    if (!r.ok) {
      errors.push(r.error);
      progress.log(r.error.message);
      continue;
    }
    const { features, sourceRate, channels } = r;
    if (job.out !== undefined) await writeFeaturesNpy(job.out, features);
    else {
      await stdout!.write(
        jsonlRecord({ path: job.path, rel: job.rel, sourceRate, channels, features }) + "\n",
      );
    }
    written++;
  }
  await stdout?.close();
  progress.done();
  if (!quiet) {
    const parts = [`${written} written`];
    if (plan.skipped) parts.push(`${plan.skipped} skipped (existing)`);
    if (errors.length) parts.push(`${errors.length} failed`);
    console.error(`featurize: ${parts.join(", ")}`);
  }
  return errors.length > 0 ? 1 : 0;
}
