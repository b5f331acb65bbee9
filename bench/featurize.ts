/**
 * Featurize throughput, ours vs torchaudio, on the same files in the same
 * run: seconds of audio processed per wall-clock second, end to end
 * (decode, downmix, resample to 16 kHz, log-mel) and features only (16 kHz
 * samples already in memory). Best of 5 passes on each side; the Python
 * side times itself (bench/featurize_ref.py), so interpreter start-up is
 * not counted. A last row runs a corpus-sized batch (CORPUS_FILES generated
 * files, about 13 minutes of audio) with `atst featurize`'s default jobs
 * against torchaudio on the same files, so the wall-time ratio is measured
 * where a worker pool pays for its start.
 *
 * Run alone: deno run -A bench/featurize.ts
 *
 * @module
 */
import { join } from "node:path";
import { loadAudio } from "../lib/audio/load.ts";
import { logMel } from "../lib/features/mel.ts";
import { defaultJobs, featurizeFiles } from "../lib/features/featurize_pool.ts";
import { noise, timeRuns } from "./_measure.ts";
import { runReference } from "./_compare.ts";
import { pcm16Wav } from "../lib/io/wav.ts";

const REPEATS = 5;
/** The corpus row: files, seconds each, passes (fewer: each pass is seconds long on both sides). */
const CORPUS_FILES = 200;
const CORPUS_SECONDS = 4;
const CORPUS_REPEATS = 3;

/** What bench/featurize_ref.py prints (seconds: best of REPEATS, wall and process CPU). */
interface Reference {
  audio_seconds: number;
  end_to_end_s: number;
  features_only_s: number;
  end_to_end_cpu_s: number;
  features_only_cpu_s: number;
  threads: number;
}

/** A 16-bit PCM WAV of `channels` x `seconds` at `rate`: chirps, a tone and noise bursts. */
export function synthWav(
  rate: number,
  channels: number,
  seconds: number,
  seed: number,
): Uint8Array {
  const n = Math.round(rate * seconds);
  const x = new Float64Array(n * channels); // interleaved; peaks at 0.7, so never clipped
  const next = noise(0.3, seed);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const sweep = Math.sin(2 * Math.PI * (100 * t + 300 * t * t)) * 0.3;
    const burst = (t % 0.7) < 0.08 ? next() : 0;
    for (let c = 0; c < channels; c++) {
      x[i * channels + c] = sweep + burst + 0.1 * Math.sin(2 * Math.PI * (440 + 110 * c) * t);
    }
  }
  return pcm16Wav(x, rate, channels);
}

/** Writes the benchmark clips into a fresh temporary folder and returns their paths. */
async function makeClips(): Promise<{ dir: string; files: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "atst_bench_featurize_" });
  const files: string[] = [];
  const specs: [number, number][] = [[44100, 2], [44100, 2], [48000, 1], [22050, 1], [16000, 1], [
    16000,
    1,
  ]];
  for (const [i, [rate, ch]] of specs.entries()) {
    const path = join(dir, `clip${i}_${rate}_${ch}ch.wav`);
    await Deno.writeFile(path, synthWav(rate, ch, 10, i + 1));
    files.push(path);
  }
  const flac = new URL("../fixtures/audio/long_13s.flac", import.meta.url);
  const flacPath = join(dir, "long_13s.flac");
  await Deno.copyFile(flac, flacPath);
  files.push(flacPath);
  return { dir, files };
}

/** CORPUS_FILES WAVs of CORPUS_SECONDS, cycling through the small set's rates and channels. */
async function makeCorpus(dir: string): Promise<string[]> {
  const specs: [number, number][] = [[44100, 2], [48000, 1], [22050, 1], [16000, 1], [32000, 2]];
  const files: string[] = [];
  for (let i = 0; i < CORPUS_FILES; i++) {
    const [rate, ch] = specs[i % specs.length]!;
    const path = join(dir, `corpus${String(i).padStart(3, "0")}_${rate}_${ch}ch.wav`);
    await Deno.writeFile(path, synthWav(rate, ch, CORPUS_SECONDS, 100 + i));
    files.push(path);
  }
  return files;
}

/** Best wall and best process-CPU seconds of `reps` runs. */
async function bestOf(fn: () => unknown, reps = REPEATS): Promise<[number, number]> {
  const { wall, cpu } = await timeRuns(fn, { warmup: 0, reps });
  return [Math.min(...wall), Math.min(...cpu)];
}

/**
 * Runs the benchmark and returns printable lines (ours, torchaudio, ratio).
 *
 * @example
 * ```ts
 * for (const line of await benchFeaturize()) console.log(line);
 * ```
 */
export async function benchFeaturize(): Promise<string[]> {
  const { dir, files } = await makeClips();
  try {
    const waves = await Promise.all(files.map(async (f) => (await loadAudio(f)).samples));
    waves.forEach((w) => logMel(w)); // warm-up (JIT, cached kernels and plans)
    const audioSeconds = waves.reduce((s, w) => s + w.length, 0) / 16000;
    const oursE2e = await bestOf(async () => {
      for (const f of files) logMel((await loadAudio(f)).samples);
    });
    const oursMel = await bestOf(() => waves.forEach((w) => logMel(w)));
    // What `atst featurize` does by default: one worker per core, over a batch of 5 copies of
    // the files so that starting the workers (once per command) is spread as in a real batch.
    const cores = navigator.hardwareConcurrency;
    const batch = Array.from({ length: 5 }, () => files).flat();
    const oursJobs = (await bestOf(async () => {
      for await (const r of featurizeFiles(batch, { jobs: cores })) if (!r.ok) throw r.error;
    })).map((s) => s / 5) as [number, number];

    // The corpus row: what `atst featurize` does on a batch of this size by default, a fresh pool
    // per pass as each command starts one; torchaudio gets the same file list.
    const corpus = await makeCorpus(dir);
    const corpusJobs = defaultJobs(corpus.length);
    const corpusSeconds = CORPUS_FILES * CORPUS_SECONDS;
    const oursCorpus = await bestOf(async () => {
      for await (const r of featurizeFiles(corpus, { jobs: corpusJobs })) if (!r.ok) throw r.error;
    }, CORPUS_REPEATS);

    const ref = await runReference<Reference>(import.meta.url, "./featurize_ref.py", [
      String(REPEATS),
      ...files,
    ]);
    const refCorpus = await runReference<Reference>(import.meta.url, "./featurize_ref.py", [
      String(CORPUS_REPEATS),
      ...corpus,
    ]);
    const corpusName = `corpus, default jobs (${corpusJobs})`;
    const corpusLines = [
      `featurize corpus: ${CORPUS_FILES} WAVs of ${CORPUS_SECONDS} s, ` +
      `${(corpusSeconds / 60).toFixed(1)} min of audio (44.1k stereo, 48k, 22.05k, 16k, ` +
      `32k stereo), best of ${CORPUS_REPEATS}; ours with featurize's default jobs`,
    ];
    const lines = [
      `featurize: ${files.length} files, ${audioSeconds.toFixed(1)} s of audio ` +
      `(WAV 44.1k stereo, 48k, 22.05k, 16k; FLAC 16k), best of ${REPEATS}; ours single-threaded`,
    ];
    const fmt = (s: number) => `${(audioSeconds / s).toFixed(0).padStart(5)} s/s`;
    const fmtCorpus = (s: number) => `${(corpusSeconds / s).toFixed(0).padStart(5)} s/s`;
    if (!ref.ok) {
      lines.push(`  end to end     ours ${fmt(oursE2e[0])}   torchaudio: not run (${ref.why})`);
      lines.push(`  features only  ours ${fmt(oursMel[0])}`);
      lines.push(`  e2e --jobs ${cores}  ours ${fmt(oursJobs[0])}`);
      lines.push(...corpusLines, `  ${corpusName}  ours ${fmtCorpus(oursCorpus[0])}`);
      return lines;
    }
    const r = ref.value;
    const row = (
      name: string,
      ours: [number, number],
      wall: number,
      cpu: number,
      f = fmt,
    ) =>
      `  ${name.padEnd(14)} ours ${f(ours[0])} (cpu ${f(ours[1])})   torchaudio ${f(wall)} ` +
      `(cpu ${f(cpu)})   ours/torchaudio ${(wall / ours[0]).toFixed(2)}x (cpu ${
        (cpu / ours[1]).toFixed(2)
      }x)`;
    lines.push(row("end to end", oursE2e, r.end_to_end_s, r.end_to_end_cpu_s));
    lines.push(row("features only", oursMel, r.features_only_s, r.features_only_cpu_s));
    lines.push(row(`e2e --jobs ${cores}`, oursJobs, r.end_to_end_s, r.end_to_end_cpu_s));
    lines.push(...corpusLines);
    lines.push(
      refCorpus.ok
        ? row(
          corpusName,
          oursCorpus,
          refCorpus.value.end_to_end_s,
          refCorpus.value.end_to_end_cpu_s,
          fmtCorpus,
        )
        : `  ${corpusName}  ours ${
          fmtCorpus(oursCorpus[0])
        }   torchaudio: not run (${refCorpus.why})`,
    );
    lines.push(
      `  (s/s = seconds of audio per second of wall time, or of process CPU time; ` +
        `torch threads: ${r.threads}; load average ${Deno.loadavg()[0]!.toFixed(1)})`,
    );
    return lines;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  for (const line of await benchFeaturize()) console.log(line);
}
