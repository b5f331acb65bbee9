/**
 * Audio file -> mono 16 kHz Float32Array: decode, downmix by mean, resample
 * with the torchaudio-compatible resampler (REFERENCE.md §1.1). PCM and
 * float WAV files are read by range (wav_stream.ts), so {@link openAudio}
 * gives any part of an hour-long WAV without holding the rest. A long FLAC,
 * MP3, Ogg Vorbis or Opus file ({@link longCompressed}) is decoded in order
 * (compressed_stream.ts) into its 16 kHz samples, never holding the file's
 * bytes or its decoded channels; other files are decoded whole.
 * {@link sequentialChunks} gives those formats in order without holding them.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { decodeBytes, DecodeError, downmix } from "./decode.ts";
import { resample } from "./resample.ts";
import { openWav } from "./wav_stream.ts";
import {
  decodeStream,
  type StreamHead,
  streamHeadOf,
  type StreamInfo,
} from "./compressed_stream.ts";

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
  const src = await openAudio(path);
  return { samples: src.read(0, src.length), sourceRate: src.sourceRate, channels: src.channels };
}

/** A file's mono 16 kHz samples, readable by range. */
export interface AudioSource {
  /** Samples at 16 kHz. */
  readonly length: number;
  /** Sample rate of the file before resampling. */
  readonly sourceRate: number;
  /** Channel count of the file before downmixing. */
  readonly channels: number;
  /** True when the samples are read from the file by range (a PCM or float WAV). */
  readonly streamed: boolean;
  /** Samples [start, end): the same values as those of {@link loadAudio}. */
  read(start: number, end: number): Float32Array;
}

/**
 * Files longer than this (16 kHz samples, 2 min) are read by range where the
 * consumer can take them so: the cache build appends them a chunk at a
 * time, `embed --frames` streams them.
 */
export const LONG_SAMPLES = 120 * TARGET_RATE;

/**
 * The samples of `src` in order, `size` at a time (default 30 s).
 *
 * @example
 * ```ts
 * for (const part of audioChunks(await openAudio("hour.wav"))) write(part);
 * ```
 */
export function* audioChunks(src: AudioSource, size = 30 * TARGET_RATE): Generator<Float32Array> {
  for (let s = 0; s < src.length; s += size) yield src.read(s, Math.min(src.length, s + size));
}

/**
 * Compressed files at least this large (bytes) whose length the header does
 * not give (MP3, Ogg) count as long for {@link longCompressed}: 4 MiB is
 * about 2 minutes of 256 kbit/s, and 4 to 9 minutes at the usual
 * 64-160 kbit/s, whose decoded channels are 100-200 MB.
 */
export const LONG_COMPRESSED_BYTES = 4 << 20;

/**
 * The stream head of `path` when it is a compressed file that
 * {@link sequentialChunks} reads in order and it is long: a FLAC past
 * `above` samples at 16 kHz (its STREAMINFO says), or an MP3, Ogg Vorbis or
 * Opus file of at least {@link LONG_COMPRESSED_BYTES}. Null otherwise, also
 * when the file cannot be read (the whole-file path then names the reason).
 */
export function longCompressed(path: string, above: number): StreamHead | null {
  let head;
  try {
    head = streamHeadOf(path);
    if (!head) return null;
    if (head.length !== null) return head.length > above ? head : null;
    return Deno.statSync(path).size >= LONG_COMPRESSED_BYTES ? head : null;
  } catch {
    return null;
  }
}

/**
 * The 16 kHz mono samples of `path` in order, about `size` at a time (WAV)
 * or as the decoder gives them (FLAC, MP3, Ogg Vorbis, Opus), never the
 * whole file at once for those; anything else is decoded whole and given
 * `size` at a time. Same samples as {@link loadAudio}, same errors
 * ({@link InputError} naming the file), possibly after some samples.
 *
 * @example
 * ```ts
 * for await (const part of sequentialChunks("two_hours.flac")) await write(part);
 * ```
 */
export async function* sequentialChunks(
  path: string,
  size = 30 * TARGET_RATE,
): AsyncGenerator<Float32Array> {
  let head;
  try {
    head = streamHeadOf(path);
  } catch (err) {
    throw new InputError(path, readFailure(err));
  }
  if (!head) {
    yield* audioChunks(await openAudio(path), size);
    return;
  }
  try {
    yield* decodeStream(path, head.format);
  } catch (err) {
    throw streamFailure(path, err);
  }
}

/** `err` from {@link decodeStream} of `path` as the whole-file path reports it. */
function streamFailure(path: string, err: unknown): unknown {
  if (err instanceof DecodeError) return new InputError(path, err.reason);
  if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
    return new InputError(path, readFailure(err));
  }
  return err;
}

/** Most samples reserved up front (1 GiB, 4.6 hours at 16 kHz); past it the buffer doubles. */
const MAX_RESERVE = 1 << 28;
/**
 * Samples reserved per byte of an MP3 or Ogg file, whose header gives no
 * length: 16 kHz at 32 kbit/s. Pages never written are never resident, so
 * reserving too much costs address space, not memory.
 */
const SAMPLES_PER_BYTE = 4;

/**
 * The 16 kHz samples of the long compressed file `path` (`head` from
 * {@link longCompressed}), decoded in order into one array: a FLAC's is
 * sized by its STREAMINFO, an MP3's or Ogg file's by its size, and either
 * doubles if the decoder gives more. The result may be a view of a larger
 * buffer whose tail was never written. Throws {@link InputError} naming
 * the file with the whole-file path's reasons.
 *
 * @example
 * ```ts
 * const head = longCompressed("hour.flac", LONG_SAMPLES);
 * if (head) console.log((await decodeLong("hour.flac", head)).samples.length);
 * ```
 */
export async function decodeLong(path: string, head: StreamHead): Promise<Audio> {
  let info: StreamInfo | null = null;
  let reserve;
  try {
    reserve = head.length ?? Deno.statSync(path).size * SAMPLES_PER_BYTE;
  } catch (err) {
    throw new InputError(path, readFailure(err));
  }
  let buf = new Float32Array(Math.min(Math.max(reserve, 1), MAX_RESERVE)), n = 0;
  try {
    for await (const part of decodeStream(path, head.format, undefined, (i) => info = i)) {
      if (n + part.length > buf.length) {
        const grown = new Float32Array(Math.max(2 * buf.length, n + part.length));
        grown.set(buf.subarray(0, n));
        buf = grown;
      }
      buf.set(part, n);
      n += part.length;
    }
  } catch (err) {
    throw streamFailure(path, err);
  }
  // decodeStream gives samples only after it has called back with the info.
  const { sampleRate, channels } = info!;
  return { samples: buf.subarray(0, n), sourceRate: sampleRate, channels };
}

/**
 * Opens one audio file as an {@link AudioSource}: a PCM or float WAV is
 * read by range when asked, a long FLAC, MP3, Ogg Vorbis or Opus file
 * ({@link longCompressed}) is decoded in order into its 16 kHz samples now
 * (the same samples, rate and channels as decoded whole, without holding
 * the file or its channels), anything else is decoded whole now. Throws
 * {@link InputError} naming the file as {@link loadAudio} does, also from
 * `read` (a WAV cut short after it was opened).
 *
 * @example
 * ```ts
 * const src = await openAudio("hour.wav");
 * const middle = src.read(src.length / 2, src.length / 2 + 16000); // 1 s, nothing else read
 * ```
 */
export async function openAudio(path: string): Promise<AudioSource> {
  let wav;
  try {
    wav = openWav(path);
  } catch (err) {
    if (err instanceof DecodeError) throw new InputError(path, err.reason);
    throw new InputError(path, readFailure(err));
  }
  if (wav) {
    const stream = wav;
    return {
      length: stream.length,
      sourceRate: stream.sourceRate,
      channels: stream.channels,
      streamed: true,
      read(start, end) {
        try {
          return stream.read(start, end);
        } catch (err) {
          if (err instanceof DecodeError) throw new InputError(path, err.reason);
          if (err instanceof RangeError) throw err;
          throw new InputError(path, readFailure(err));
        }
      },
    };
  }
  const long = longCompressed(path, LONG_SAMPLES);
  const audio = long ? await decodeLong(path, long) : await decodeWhole(path);
  return {
    length: audio.samples.length,
    sourceRate: audio.sourceRate,
    channels: audio.channels,
    streamed: false,
    read: (start, end) => audio.samples.subarray(start, end),
  };
}

/** The file's bytes, decoded whole. */
async function decodeWhole(path: string): Promise<Audio> {
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
