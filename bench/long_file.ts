/**
 * An hour-long file, measured (issues 12 and 14): writes a 60-minute and a
 * 2.5-minute 44.1 kHz stereo 16-bit WAV (and a 120-minute one for the cache),
 * runs `atst embed` on each in its own process for every family, mode and
 * output format, and the pre-training cache build and a 2-step tiny
 * `pretrain` on the 120-minute file, each child writing its peak RSS
 * (`ATST_PEAK_RSS_FILE`, lib/io/peak_memory.ts). A row prints the long
 * file's peak, the short file's, their difference, the wall times (with
 * Deno's start-up) and what the long output holds; the header prints what
 * the decoded signal alone would take, for comparison. Everything is
 * written in a temporary folder removed at the end. The short file is just
 * past 2 minutes (LONG_SAMPLES): at 2 minutes or less ATST-Clip frames and
 * the cache build decode a file whole, so the two would not share a path.
 *
 * Only WAV is measured: FLAC, MP3 and Ogg take the same chunked path in
 * the cache build (decoded in order and appended chunk by chunk) and no
 * encoder of hour-long files is at hand.
 *
 * Usage: deno run -A bench/long_file.ts [--minutes 60] [--short-minutes 2.5]
 *          [--cache-minutes 120] [--backend native|wasm]
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeLongWav } from "../tests/_long_wav.ts";
import { PEAK_RSS_ENV } from "../lib/io/peak_memory.ts";
import { readNpy } from "../lib/io/npy.ts";
import { useBackend } from "../lib/backend/backend.ts";
import { type Outcome, parseFlagsOrExit } from "./_compare.ts";

const USAGE = `
Usage: deno run -A bench/long_file.ts [--minutes 60] [--short-minutes 2.5]
         [--cache-minutes 120] [--backend native|wasm]

Peak RSS and wall time of atst embed (every family, mode and format) on a
long and a short 44.1 kHz stereo WAV, and of the cache build and a 2-step
tiny pretrain on a longer one. --backend defaults to native, else wasm.
`;

const { values } = parseFlagsOrExit({
  args: Deno.args,
  options: {
    minutes: { type: "string" },
    "short-minutes": { type: "string" },
    "cache-minutes": { type: "string" },
    backend: { type: "string" },
    backends: { type: "string" }, // from bench/run.ts: the first one is used
    help: { type: "boolean" },
  },
});
if (values.help) {
  console.log(USAGE.trim());
  Deno.exit(0);
}
const LONG = Number(values.minutes ?? 60);
const SHORT = Number(values["short-minutes"] ?? 2.5);
const CACHE = Number(values["cache-minutes"] ?? 120);
for (const flag of ["minutes", "short-minutes", "cache-minutes"] as const) {
  const v = values[flag];
  if (v !== undefined && !(Number(v) > 0)) {
    console.error(`bench: --${flag} must be a positive number, not '${v}'`);
    Deno.exit(2);
  }
}
const RATE = 44100, CHANNELS = 2, MB = 1e6;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLIP = join(ROOT, "fixtures/model/a.ckpt");
const FRAME = join(ROOT, "fixtures/frame/fa.ckpt");

/** native when it starts on this machine (as the other sections default to), else wasm. */
async function pickBackend(): Promise<string> {
  const asked = values.backend ?? values.backends?.split(",")[0];
  if (asked) return asked;
  try {
    await useBackend("native", { quiet: true });
    return "native";
  } catch {
    return "wasm";
  }
}

/** What one child run gave: its peak RSS (MB) and wall seconds. */
interface Measured {
  peakMb: number;
  wallS: number;
}

/** Runs `deno run -A SCRIPT args` with the peak-RSS hook on; the error line when it fails. */
async function measure(dir: string, script: string, args: string[]): Promise<Outcome<Measured>> {
  const report = join(dir, "peak.json");
  await Deno.remove(report).catch(() => {});
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, script), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", [PEAK_RSS_ENV]: report },
    stdout: "null",
    stderr: "piped",
  }).output();
  const wallS = (performance.now() - t0) / 1000;
  if (!out.success) {
    const last = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    const sig = out.signal ? `signal ${out.signal}` : `exit ${out.code}`;
    return { ok: false, why: `${sig}: ${last.slice(0, 300)}` };
  }
  const peak = JSON.parse(await Deno.readTextFile(report)).peakRssBytes;
  return { ok: true, value: { peakMb: peak / MB, wallS } };
}

/** Size of a file or folder's files in MB. */
async function sizeMb(path: string): Promise<number> {
  const st = await Deno.stat(path);
  if (st.isFile) return st.size / MB;
  let total = 0;
  for await (const e of Deno.readDir(path)) total += await sizeMb(join(path, e.name));
  return total;
}

/** Newlines in a file, read a MiB at a time. */
async function countLines(path: string): Promise<number> {
  let n = 0;
  using f = await Deno.open(path);
  for await (const chunk of f.readable) for (const b of chunk) if (b === 10) n++;
  return n;
}

/** The name of the one file in `dir` ending in `ext` (an embed output folder holds one input's). */
async function theOne(dir: string, ext: string): Promise<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(ext) && !(ext === ".npy" && e.name.endsWith(".times.npy"))) return e.name;
  }
  throw new Error(`No ${ext} file in ${dir}`);
}

/** "+12" or "-3", padded to 4 characters. */
const signed = (mb: number) => {
  const r = Math.round(mb);
  return `${r < 0 ? "-" : "+"}${Math.abs(r)}`.padStart(4);
};

/** One measured command: its arguments for a WAV and an output path, and what the output holds. */
interface Row {
  label: string;
  /** "cache" rows run on the cache-length file, the others on the hour. */
  on: "embed" | "cache";
  script: string;
  args: (wav: string, out: string) => string[];
  /** The long run's output, described in a few words (tokens, size). */
  holds: (out: string) => Promise<string>;
}

const BACKEND = await pickBackend();
const embed = (model: string, extra: string[]) => (wav: string, out: string) => [
  "embed",
  "--model",
  model,
  ...extra,
  wav,
  "--out",
  out,
  "--quiet",
  "--backend",
  BACKEND,
];
const npyTokens = async (out: string) => {
  const times = await readNpy(join(out, await theOne(out, ".times.npy")));
  return `${times.shape[0]} tokens, ${(await sizeMb(out)).toFixed(0)} MB npy`;
};
const fileSize = (kind: string) => async (out: string) =>
  `${(await sizeMb(out)).toFixed(0)} MB ${kind}`;
const vectorSize = (note: string) => async (out: string) => {
  const v = await readNpy(join(out, await theOne(out, ".npy")));
  return `one ${v.shape[0]}-value vector${note}`;
};

const ROWS: Row[] = [
  {
    label: "ATST-Frame --frames, npy",
    on: "embed",
    script: "main.ts",
    args: embed(FRAME, ["--frames"]),
    holds: npyTokens,
  },
  {
    // The same run on the cache's longer file: a peak that does not rise from 60 to 120 min
    // is the collector's slack, not a buffer that grows with the file.
    label: "ATST-Frame --frames, npy",
    on: "cache",
    script: "main.ts",
    args: embed(FRAME, ["--frames"]),
    holds: npyTokens,
  },
  {
    label: "ATST-Frame --frames, jsonl",
    on: "embed",
    script: "main.ts",
    args: (w, out) => embed(FRAME, ["--frames", "--format", "jsonl"])(w, `${out}.jsonl`),
    holds: (out) => fileSize("jsonl")(`${out}.jsonl`),
  },
  {
    label: "ATST-Frame --frames, csv",
    on: "embed",
    script: "main.ts",
    args: (w, out) => embed(FRAME, ["--frames", "--format", "csv"])(w, `${out}.csv`),
    holds: async (out) =>
      `${(await countLines(`${out}.csv`)) - 1} rows, ${
        (await sizeMb(`${out}.csv`)).toFixed(0)
      } MB csv`,
  },
  {
    label: "ATST-Frame scene (clip mode), npy",
    on: "embed",
    script: "main.ts",
    args: embed(FRAME, []),
    holds: vectorSize(""),
  },
  {
    label: "ATST-Clip --frames, npy",
    on: "embed",
    script: "main.ts",
    args: embed(CLIP, ["--frames"]),
    holds: npyTokens,
  },
  {
    label: "ATST-Clip clip mode, npy",
    on: "embed",
    script: "main.ts",
    args: embed(CLIP, []),
    holds: vectorSize(" (12 s centre crop)"),
  },
  {
    label: "cache build (1 job)",
    on: "cache",
    script: "tests/_cache_build_child.ts",
    args: (w, out) => [out, w],
    holds: async (out) => {
      const index = JSON.parse(await Deno.readTextFile(join(out, "index.json")));
      const samples = index.clips.reduce((s: number, c: { samples: number }) => s + c.samples, 0);
      return `${samples} samples, ${(await sizeMb(out)).toFixed(0)} MB cache`;
    },
  },
  {
    label: "pretrain tiny, 2 steps of batch 2",
    on: "cache",
    script: "main.ts",
    args: (w, out) => [
      "pretrain",
      "--data",
      w,
      "--run",
      out,
      "--size",
      "tiny",
      "--steps",
      "2",
      "--batch",
      "2",
      "--quiet",
      "--backend",
      BACKEND,
    ],
    holds: async (out) => `${(await sizeMb(join(out, "cache"))).toFixed(0)} MB cache, 2 steps`,
  },
];

const dir = await Deno.makeTempDir({ prefix: "atst-long-file-" });
try {
  const wavs = {
    embed: { long: join(dir, "long.wav"), short: join(dir, "short.wav"), minutes: LONG },
    cache: { long: join(dir, "cache_long.wav"), short: join(dir, "short.wav"), minutes: CACHE },
  };
  const t0 = performance.now();
  const bytes: number[] = [];
  for (
    const [path, minutes] of [[wavs.embed.long, LONG], [wavs.cache.long, CACHE], [
      wavs.embed.short,
      SHORT,
    ]] as const
  ) {
    bytes.push(await writeLongWav(path, { seconds: minutes * 60, rate: RATE, channels: CHANNELS }));
  }
  const writeS = (performance.now() - t0) / 1000;
  const decoded = (minutes: number) =>
    `${(minutes * 60 * 16000 * 4 / MB).toFixed(0)} MB at 16 kHz float32, ` +
    `${(minutes * 60 * RATE * CHANNELS * 4 / MB).toFixed(0)} MB as 44.1 kHz float32 channels`;
  console.log(
    `long-file: 44.1 kHz stereo 16-bit WAVs of ${LONG} min (${(bytes[0]! / MB).toFixed(0)} MB), ` +
      `${CACHE} min (${(bytes[1]! / MB).toFixed(0)} MB) and ${SHORT} min ` +
      `(${(bytes[2]! / MB).toFixed(0)} MB), written in ${writeS.toFixed(0)} s; ` +
      `tiny fixture models (fixtures/model/a.ckpt, fixtures/frame/fa.ckpt), backend ${BACKEND}, ` +
      `${navigator.hardwareConcurrency} cores`,
  );
  console.log(`  decoded whole, ${LONG} min would be ${decoded(LONG)}`);
  console.log(`  decoded whole, ${CACHE} min would be ${decoded(CACHE)}`);
  console.log(`  one process per run; wall times include Deno's start-up; MB = 10^6 bytes`);
  let failed = 0;
  for (const row of ROWS) {
    const w = wavs[row.on];
    const out = join(dir, "out");
    const runs: Outcome<Measured>[] = [];
    let holds = "";
    for (const wav of [w.long, w.short]) {
      runs.push(await measure(dir, row.script, row.args(wav, out)));
      if (wav === w.long && runs[0]!.ok) holds = await row.holds(out);
      for (const p of [out, `${out}.jsonl`, `${out}.csv`]) {
        await Deno.remove(p, { recursive: true }).catch(() => {});
      }
    }
    const [l, s] = runs as [Outcome<Measured>, Outcome<Measured>];
    const name = `${row.label} (${w.minutes} min)`.padEnd(44);
    if (!l.ok || !s.ok) {
      console.log(`  ${name} FAILED (${!l.ok ? l.why : !s.ok ? s.why : ""})`);
      failed++;
      continue;
    }
    console.log(
      `  ${name} peak RSS ${l.value.peakMb.toFixed(0).padStart(4)} MB (${SHORT} min: ` +
        `${s.value.peakMb.toFixed(0).padStart(4)} MB, ${
          signed(l.value.peakMb - s.value.peakMb)
        } MB), wall ${l.value.wallS.toFixed(1)} s (${SHORT} min: ${
          s.value.wallS.toFixed(1)
        } s); ${holds}`,
    );
  }
  if (failed) Deno.exitCode = 1;
} finally {
  await Deno.remove(dir, { recursive: true });
}
