/**
 * `atst embed`: audio -> clip or frame embeddings. Flags and wiring only;
 * the work is in lib/embed/.
 *
 * @module
 */
import { choice, num, parseFlags, str } from "../lib/cli/args.ts";
import { UserError } from "../lib/errors.ts";
import { Progress } from "../lib/io/progress.ts";
import { type BackendName, BACKENDS, useBackend } from "../lib/backend/backend.ts";
import { expandInputs, parseShard, shard } from "../lib/audio/inputs.ts";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { embedFiles, embedSettings } from "../lib/embed/embed_files.ts";
import { EMBED_FORMATS, embedHeader, openEmbedSink } from "../lib/embed/sink.ts";
import denoJson from "../deno.json" with { type: "json" };

const HELP = `atst embed: audio -> ATST clip or frame embeddings

Usage: atst embed --model CKPT [flags] IN...

IN: audio files, folders (searched recursively), @list.txt (one path per
line) or - (paths on stdin). CKPT: an atst .safetensors of either family,
or the authors' PyTorch files, imported directly: ATST-Clip Lightning .ckpt
/ plain .pth, ATST-Frame Lightning .ckpt (teacher encoder), fine-tuned
.ckpt (encoder.encoder.*, ATST-C2F's encoder.encoder.frame_encoder.*). The
family (ATST-Clip or ATST-Frame) and size come from the checkpoint.

ATST-Clip, clip mode (default), the reference's linear-evaluation protocol:
centre crop to 12 s, chunks of int(trainCropSeconds * 100 + 1) frames, for
each of the last N blocks the CLS token and the mean of the patch tokens,
averaged over chunks: 2 * N * D values (9216 for small). --frames gives one
vector per 40 ms patch instead (any length; times are patch centres in ms).

ATST-Frame (the authors' embedding.py): the whole clip in chunks of 1001
frames (10 s). Clip mode gives the scene embedding, the per-block token
mean of the last N blocks averaged over chunks: N * D values (4608 for
small). --frames gives the timestamp embedding, for every 40 ms token the
last N blocks concatenated (default 12; SED systems use --blocks 1), with
times_ms the true token centres (1001 i + 4 k + 1.5) * 10 ms (the authors
report 40 k ms). Long files are read and written a chunk at a time.

Flags:
  --model CKPT          checkpoint (required)
  --out DIR             write DIR/<path>.npy per input (mirroring relative
                        paths) and DIR/embed.json with the metadata
  --format F            npy (default with --out), jsonl (default without:
                        stdout) or csv; with --out, jsonl/csv go to
                        DIR/embeddings.F, or to the file itself when --out
                        ends in .jsonl/.csv
  --frames              frame embeddings instead of clip embeddings
  --blocks N            last N blocks (default 12; 1 for ATST-Clip frames;
                        clipped to the model's depth)
  --pool P              ATST-Clip clip pooling: cls, mean or both (default
                        both)
  --corrected-mean      divide each chunk's patch sum by its own patch count
                        (the reference divides by the remaining length)
  --batch N             clips per group and chunks per encoder call (default 8)
  --skip-existing       with --out and npy: skip inputs whose .npy exists
  --shard K/N           embed only the K-th of N deterministic shares
  --backend B           ${BACKENDS.join("|")} (default auto)
  --quiet               no progress lines
  -h, --help            this text

Examples:
  atst embed --model atst_small.ckpt clips/ --out emb/
  atst embed --model m.safetensors a.wav b.flac --format csv > emb.csv
  atst embed --model m.safetensors long.wav --frames --format jsonl

Exit codes: 0 ok; 1 some inputs failed (one line each on stderr, the rest
were embedded); 2 bad flags or an unusable checkpoint (nothing written).`;

/** Runs `atst embed`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(args, {
    model: { type: "string" },
    out: { type: "string" },
    format: { type: "string" },
    frames: { type: "boolean" },
    blocks: { type: "string" },
    pool: { type: "string" },
    "corrected-mean": { type: "boolean" },
    batch: { type: "string" },
    "skip-existing": { type: "boolean" },
    shard: { type: "string" },
    backend: { type: "string" },
    quiet: { type: "boolean" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const modelPath = str(values, "model");
  if (!modelPath) {
    throw new UserError("Flag --model is required (an atst .safetensors or a PyTorch .ckpt)");
  }
  if (positionals.length === 0) {
    throw new UserError("No inputs: give audio files, folders, @list.txt or -");
  }
  const out = str(values, "out");
  const format = choice(values, "format", EMBED_FORMATS, out ? "npy" : "jsonl");
  if (format === "npy" && !out) throw new UserError("Format npy needs --out DIR");
  const frames = values.frames === true;
  // Defaults depend on the model's family (embedSettings): absent flags stay undefined.
  const blocks = values.blocks === undefined
    ? undefined
    : num(values, "blocks", 12, { min: 1, integer: true });
  const pool = values.pool === undefined
    ? undefined
    : choice(values, "pool", ["cls", "mean", "both"] as const, "both");
  const correctedMean = values["corrected-mean"] === true;
  if (frames && (values.pool !== undefined || correctedMean)) {
    throw new UserError(
      "Flags --pool and --corrected-mean apply to clip embeddings, not --frames",
    );
  }
  const batch = num(values, "batch", 8, { min: 1, max: 4096, integer: true });
  const skipExisting = values["skip-existing"] === true;
  if (skipExisting && format !== "npy") {
    throw new UserError("Flag --skip-existing needs --out DIR with npy output");
  }
  const [k, n] = parseShard(str(values, "shard"));
  const backendName = choice(values, "backend", BACKENDS, "auto") as BackendName;
  const quiet = values.quiet === true;

  const backend = await useBackend(backendName, { quiet });
  const model = await loadEncoder(modelPath, { trainable: false, name: "embed/encoder" });
  const mode = frames ? "frames" : "clip";
  const settings = embedSettings(model, { mode, blocks, pool, correctedMean });
  const expanded = await expandInputs(positionals);
  const header = embedHeader(model, settings, { modelPath, backend, version: denoJson.version });
  const sink = await openEmbedSink(header, { format, out });
  const { files, errors, skipped } = await sink.select(shard(expanded.files, k, n), {
    skipExisting,
  });
  let failed = expanded.errors.length + errors.length;
  for (const e of [...expanded.errors, ...errors]) console.error(`atst: ${e.message}`);
  if (!quiet && skipped > 0) console.error(`atst: skipping ${skipped} existing`);

  const progress = new Progress({
    label: "embed",
    total: files.length,
    enabled: !quiet,
    logEverySeconds: 30,
  });
  const opts = { mode, blocks, pool, correctedMean: settings.correctedMean, batch } as const;
  try {
    await embedFiles(model, files, opts, async (r) => {
      if ("error" in r) {
        failed++;
        progress.log(`atst: ${r.error.message}`);
      } else await sink.write(r);
      progress.tick();
    });
  } catch (err) {
    await sink.abort();
    throw err;
  }
  await sink.close();
  progress.done();
  model.encoder.dispose();
  return failed > 0 ? 1 : 0;
}
