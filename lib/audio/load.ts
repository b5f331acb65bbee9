/**
 * Audio file -> mono 16 kHz Float32Array: decode, downmix by mean, resample
 * with the torchaudio-compatible resampler (REFERENCE.md §1.1).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { decodeBytes, DecodeError, downmix } from "./decode.ts";
import { resample } from "./resample.ts";

/** The model's sample rate. */
export const TARGET_RATE = 16000;

/** A loaded clip. */
export interface Audio {
  /** Mono samples at 16 kHz. */
  samples: Float32Array;
  /** Sample rate of the file before resampling. */
  sourceRate: number;
  /** Channel count of the file before downmixing. */
  channels: number;
}

/**
 * Downmixes `channels` (mean) and resamples from `rate` to 16 kHz.
 *
 * @example
 * ```ts
 * const mono = toMono16k([left, right], 44100);
 * ```
 */
export function toMono16k(channels: Float32Array[], rate: number): Float32Array {
  return resample(downmix(channels), rate, TARGET_RATE);
}

/** Human-readable reason for a failed read of `path`. */
function readFailure(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  return err instanceof Error ? err.message : String(err);
}

/**
 * Reads, decodes, downmixes and resamples one audio file to mono 16 kHz.
 * Throws {@link InputError} naming the file for a missing, unreadable,
 * empty, corrupt or unsupported file.
 *
 * @example
 * ```ts
 * const { samples, sourceRate } = await loadAudio("clip.mp3");
 * ```
 */
export async function loadAudio(path: string): Promise<Audio> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new InputError(path, readFailure(err));
  }
  return await decodeToAudio(bytes, path);
}

/** Like {@link loadAudio} for bytes already in memory; `name` is used in errors. */
export async function decodeToAudio(bytes: Uint8Array, name: string): Promise<Audio> {
  try {
    const { channels, sampleRate } = await decodeBytes(bytes);
    return {
      samples: toMono16k(channels, sampleRate),
      sourceRate: sampleRate,
      channels: channels.length,
    };
  } catch (err) {
    if (err instanceof DecodeError) throw new InputError(name, err.reason);
    throw err;
  }
}
