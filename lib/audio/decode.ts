/**
 * Encoded bytes -> PCM channels, with npm `audio-decode` (pure JS / WASM
 * decoders, no native libraries, works under Deno), plus the mean downmix.
 *
 * Formats are recognised from the bytes, not the file name. Decoders
 * verified under Deno by tests/audio_test.ts: WAV (8-bit unsigned, 16/24/32
 * bit integer, 32/64 bit float, WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, MP3,
 * Ogg Vorbis, Ogg Opus, AAC in MP4/M4A, WebM (Opus).
 *
 * @module
 */
import decodeAudio from "audio-decode";
import { intScalingOf, rescaleIntPcm } from "./pcm_scale.ts";

/** Decoded PCM: one Float32Array per channel, all the same length. */
export interface Decoded {
  channels: Float32Array[];
  sampleRate: number;
}

/**
 * Thrown for bytes that cannot be turned into audio; `reason` is one short
 * sentence fragment for the user ("file is empty", "not an audio file ...").
 */
export class DecodeError extends Error {
  override name = "DecodeError";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Magic numbers of audio formats `audio-decode` does not read, to name them in errors. */
const UNSUPPORTED_MAGIC: [string, number[]][] = [
  ["Sun/NeXT .au", [0x2e, 0x73, 0x6e, 0x64]], // ".snd"
  ["8SVX/IFF", [0x46, 0x4f, 0x52, 0x4d]], // "FORM" that is not AIFF (AIFF is caught first)
  ["Creative .voc", [0x43, 0x72, 0x65, 0x61, 0x74, 0x69, 0x76, 0x65]], // "Creative"
  ["MIDI", [0x4d, 0x54, 0x68, 0x64]], // "MThd"
];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** True when the first bytes look like text (printable ASCII/UTF-8 and whitespace). */
function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  return n > 0;
}

function unknownFormatReason(bytes: Uint8Array): string {
  if (looksLikeText(bytes)) return "not an audio file (it contains text)";
  for (const [name, magic] of UNSUPPORTED_MAGIC) {
    if (startsWith(bytes, magic)) return `unsupported audio format (${name})`;
  }
  return "not an audio file or an unsupported format";
}

/**
 * Decodes a whole encoded file. Throws {@link DecodeError} for empty,
 * unrecognised, corrupt or truncated data, for data without samples and for
 * non-finite samples (NaN/Inf in float WAV).
 *
 * @example
 * ```ts
 * const { channels, sampleRate } = await decodeBytes(await Deno.readFile("a.flac"));
 * ```
 */
export async function decodeBytes(bytes: Uint8Array): Promise<Decoded> {
  if (bytes.length === 0) throw new DecodeError("file is empty");
  let out: { channelData: Float32Array[]; sampleRate: number };
  try {
    out = await decodeAudio(bytes);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/unknown audio format/i.test(msg)) throw new DecodeError(unknownFormatReason(bytes));
    if (/no decoder for/i.test(msg)) {
      throw new DecodeError(`unsupported audio format (${msg.replace(/^no decoder for /i, "")})`);
    }
    throw new DecodeError(`corrupt or truncated audio data (${msg})`);
  }
  const channels = out.channelData;
  const length = channels[0]?.length ?? 0;
  if (channels.length === 0 || length === 0) {
    throw new DecodeError("no audio samples could be decoded (truncated or corrupt file)");
  }
  if (!(out.sampleRate > 0) || !Number.isInteger(out.sampleRate)) {
    throw new DecodeError(`invalid sample rate ${out.sampleRate}`);
  }
  checkChannels(channels);
  const scaling = intScalingOf(bytes);
  if (scaling) rescaleIntPcm(channels, scaling);
  return { channels, sampleRate: out.sampleRate };
}

/**
 * Throws {@link DecodeError} unless every channel has the first one's
 * length and only finite samples (decoded pieces, whole or streamed).
 */
export function checkChannels(channels: Float32Array[]): void {
  const length = channels[0]?.length;
  for (const ch of channels) {
    if (ch.length !== length) throw new DecodeError("channels have different lengths");
    checkFinite(ch);
  }
}

/** Throws {@link DecodeError} when `x` holds a NaN or infinite sample. */
export function checkFinite(x: Float32Array): void {
  // A float32 sum cannot overflow float64, so it is finite exactly when all samples are.
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  if (!Number.isFinite(sum)) throw new DecodeError("audio contains NaN or infinite samples");
}

/**
 * Averages channels into one (the reference's `mean(dim=0)`); a single
 * channel is returned as is.
 */
export function downmix(channels: Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) throw new RangeError("No channels to downmix");
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  const c = channels.length;
  if (c === 2) {
    const second = channels[1]!;
    for (let i = 0; i < out.length; i++) out[i] = (first[i]! + second[i]!) / 2;
    return out;
  }
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += channels[k]![i]!;
    out[i] = s / c;
  }
  return out;
}
