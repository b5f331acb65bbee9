/**
 * Helper of tools/gen_features.py: decodes audio files with OUR loader
 * (audio-decode + resampler) and writes the mono 16 kHz samples as
 * `<outDir>/<i>.npy` plus `<outDir>/meta.json`, so the Python reference can
 * compute torchaudio features on exactly the same input.
 *
 * Usage: deno run -A tools/gen_features_samples.ts OUT_DIR FILE...
 *
 * @module
 */
import { loadAudio } from "../lib/audio/load.ts";
import { writeNpy } from "../lib/io/npy.ts";

const [outDir, ...files] = Deno.args;
if (!outDir) throw new Error("Usage: gen_features_samples.ts OUT_DIR FILE...");
const meta = [];
for (const [i, file] of files.entries()) {
  const audio = await loadAudio(file);
  await writeNpy(`${outDir}/${i}.npy`, { shape: [audio.samples.length], data: audio.samples });
  meta.push({ file, sourceRate: audio.sourceRate, channels: audio.channels });
}
await Deno.writeTextFile(`${outDir}/meta.json`, JSON.stringify(meta));
