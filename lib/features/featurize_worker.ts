/**
 * Worker entry of {@link ../features/featurize_pool.ts}: path in, features
 * (or the reason the file failed) out. The features buffer is transferred,
 * not copied.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { InputError } from "../errors.ts";
import { loadAudio } from "../audio/load.ts";
import { logMel, type MelConfig } from "./mel.ts";

self.onmessage = async (e: MessageEvent<{ id: number; path: string; mel: MelConfig }>) => {
  const { id, path, mel } = e.data;
  try {
    const { samples, sourceRate, channels } = await loadAudio(path);
    const { data, nMels, frames } = logMel(samples, mel);
    self.postMessage({ id, sourceRate, channels, data, nMels, frames }, [
      data.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    if (err instanceof InputError) {
      self.postMessage({ id, error: { path: err.path, reason: err.reason } });
    } else {self.postMessage({
        id,
        internal: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });}
  }
};
