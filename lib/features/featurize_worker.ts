/**
 * Worker entry of the audio pools (lib/features/worker_pool.ts): a path in,
 * its 16 kHz samples or its log-mel features out (or the reason the file
 * failed). Buffers are transferred, not copied. The work is
 * {@link loadFile}, the same function the single-threaded paths call, so
 * both give the same bits.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { serveJobs } from "./worker_pool.ts";
import { type AudioJob, type AudioReply, loadFile } from "./featurize_pool.ts";

serveJobs<AudioJob, AudioReply>(async (job) => {
  const reply = await loadFile(job);
  const data = "features" in reply
    ? reply.features.data
    : "samples" in reply
    ? reply.samples
    : undefined;
  return { result: reply, transfer: data ? [data.buffer as ArrayBuffer] : [] };
});
