/**
 * A child process for tests/long_audio_test.ts: builds the decode cache of
 * `inputs` in `cache` (one decoding thread), prints the index's clip
 * lengths, and reports its peak memory (lib/io/peak_memory.ts).
 *
 * Usage: deno run -A tests/_cache_build_child.ts CACHE INPUT...
 *
 * @module
 */
import { prepareData } from "../lib/train/data.ts";
import { reportPeakMemory } from "../lib/io/peak_memory.ts";

const [cache, ...inputs] = Deno.args;
const data = await prepareData(inputs, cache!, { jobs: 1, warn: () => {} });
console.log(JSON.stringify(data.index.clips.map((c) => c.samples)));
reportPeakMemory();
