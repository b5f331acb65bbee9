/**
 * FLAC, MP3, Ogg Vorbis and Ogg Opus files decoded in order, a block of the
 * file at a time (audio-decode's `decodeChunked`), downmixed by mean and
 * resampled with {@link ResampleStream}: the same 16 kHz samples as the
 * whole-file path (decode.ts, load.ts `toMono16k`) without holding the
 * file or its decoded channels whole.
 *
 * Checked sample for sample against the whole-file decoder on the codec
 * fixtures and on 10-minute stereo files from flac, lame, oggenc and
 * opusenc (tests/compressed_stream_test.ts keeps the fixture checks). Two
 * decoder details shape this file:
 * - audio-decode's raw FLAC parser misses a frame whose header is cut by a
 *   block boundary (it merges it into the previous frame and drops
 *   samples), so FLAC blocks end where no frame sync (FF F8/F9) starts in
 *   the last 32 bytes.
 * - its MP3 decoder gives a mono source as two equal channels and
 *   audio-decode collapses them after checking every 37th sample of a
 *   decoded piece; the whole-file path checks the whole file at once, so a
 *   stereo file whose channels agree on every 37th sample of its first
 *   piece but not elsewhere would be averaged differently there. The
 *   downmix of truly equal channels is the channel itself either way.
 *
 * Ogg FLAC, ID3-tagged FLAC, AAC/M4A, WebM and the rest stay on the
 * whole-file path ({@link streamFormat} says null).
 *
 * @module
 */
import { decodeChunked } from "audio-decode";
import { checkChannels, DecodeError, downmix } from "./decode.ts";
import { intScalingOf, rescaleIntPcm } from "./pcm_scale.ts";
import { resampledLength, ResampleStream } from "./resample_stream.ts";
import { readAt } from "../io/read_at.ts";

/** Formats read in order by {@link decodeStream}: audio-decode's names. */
export type StreamFormat = "flac" | "mp3" | "oga" | "opus";

/** What the first bytes of a file say about streaming it. */
export interface StreamHead {
  format: StreamFormat;
  /** The 16 kHz length from FLAC's STREAMINFO; null when the header does not say. */
  length: number | null;
}

/** What the decoder's first piece says about the file (the whole-file path's `sourceRate`, `channels`). */
export interface StreamInfo {
  /** Sample rate of the file before resampling. */
  sampleRate: number;
  /** Channel count of the file before downmixing. */
  channels: number;
}

/** Bytes of the file handed to the decoder at a time. */
const BLOCK = 1 << 20;
/** Bytes read for {@link streamFormat}. */
const HEAD = 64;
/** No FLAC frame may start this close before a block's end (its header is at most 16 bytes). */
const FLAC_GUARD = 32;

function ascii(b: Uint8Array, at: number, s: string): boolean {
  return [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
}

/** True for an MPEG audio frame sync with a layer (audio-type's test; layer 0 is AAC). */
function mpegSync(b: Uint8Array, at: number): boolean {
  return b[at] === 0xff && (b[at + 1]! & 0xe0) === 0xe0 && (b[at + 1]! & 0x06) !== 0;
}

/**
 * The streamable format of a file from its first bytes `head` (at least
 * 64, fewer only for a shorter file), or null to decode it whole. `at(p)`
 * reads 4 bytes at offset p (for the MPEG sync after an ID3v2 tag).
 */
export function streamFormat(
  head: Uint8Array,
  at: (p: number) => Uint8Array,
): StreamHead | null {
  if (head.length < 42) return null;
  // audio-type's order: WAV and AIFF first, then MP3, FLAC, Ogg.
  if (ascii(head, 0, "RIFF") || ascii(head, 0, "FORM")) return null;
  if (mpegSync(head, 0)) return { format: "mp3", length: null };
  if (ascii(head, 0, "ID3")) {
    const size = ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) |
      ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
    const skip = 10 + size + (head[5]! & 0x10 ? 10 : 0);
    return mpegSync(at(skip), 0) ? { format: "mp3", length: null } : null;
  }
  if (ascii(head, 0, "fLaC")) {
    // STREAMINFO first (type 0, length 34), then the sample rate and total frames.
    if ((head[4]! & 0x7f) !== 0) return null;
    const rate = (head[18]! << 12) | (head[19]! << 4) | (head[20]! >> 4);
    const total = (head[21]! & 0x0f) * 2 ** 32 + ((head[22]! << 24) >>> 0) +
      (head[23]! << 16) + (head[24]! << 8) + head[25]!;
    // An unknown total takes another path in audio-decode's FLAC decoder: decode it whole.
    if (rate < 1 || total === 0) return null;
    return { format: "flac", length: resampledLength(total, rate) };
  }
  if (ascii(head, 0, "OggS") && ascii(head, 28, "OpusHead")) {
    return { format: "opus", length: null };
  }
  if (ascii(head, 0, "OggS") && head[28] === 1 && ascii(head, 29, "vorbis")) {
    return { format: "oga", length: null };
  }
  return null;
}

/** {@link streamFormat} of the file at `path`; file system errors are thrown as they come. */
export function streamHeadOf(path: string): StreamHead | null {
  using file = Deno.openSync(path, { read: true });
  return streamFormat(readAt(file, 0, HEAD), (p) => readAt(file, p, 4));
}

/** The end of a FLAC block in `b[0, end)`: no frame sync starts in its last FLAC_GUARD bytes. */
function flacCut(b: Uint8Array, end: number): number {
  let e = end;
  for (let i = end - 1; i >= Math.max(0, e - FLAC_GUARD - 1); i--) {
    // A sync at i (or an FF whose next byte is past the block) pushes the end before it.
    if (b[i] === 0xff && (i + 1 >= end || (b[i + 1]! & 0xfe) === 0xf8)) e = i;
  }
  return e > 0 ? e : end;
}

/** The file's bytes a block at a time; FLAC blocks end away from frame headers. */
async function* blocks(
  path: string,
  format: StreamFormat,
  size: number,
): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  let carry = new Uint8Array(0);
  while (true) {
    const buf = new Uint8Array(carry.length + size);
    buf.set(carry);
    let got = carry.length, eof = false;
    while (got < buf.length) {
      const r = await file.read(buf.subarray(got));
      if (r === null) {
        eof = true;
        break;
      }
      got += r;
    }
    if (eof) {
      if (got > 0) yield buf.subarray(0, got);
      return;
    }
    const cut = format === "flac" ? flacCut(buf, got) : got;
    carry = buf.slice(cut, got);
    yield buf.subarray(0, cut);
  }
}

function decodeFailure(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new DecodeError(`corrupt or truncated audio data (${msg})`);
}

/**
 * The 16 kHz mono samples of the file at `path` in `format`, in order.
 * Throws {@link DecodeError} with decode.ts's reasons (no samples, corrupt
 * data, non-finite samples, a bad sample rate); file system errors are
 * thrown as they come. `blockBytes` (default 1 MiB) is how much of the
 * file the decoder gets at a time. `onInfo` is called once, before the
 * first samples, with the file's rate and channel count.
 *
 * @example
 * ```ts
 * const head = streamHeadOf("hour.flac");
 * if (head) for await (const part of decodeStream("hour.flac", head.format)) write(part);
 * ```
 */
export async function* decodeStream(
  path: string,
  format: StreamFormat,
  blockBytes = BLOCK,
  onInfo?: (info: StreamInfo) => void,
): AsyncGenerator<Float32Array> {
  let rs: ResampleStream | null = null, rate = 0;
  const scaling = format === "flac" ? intScalingOf(streamHeadBytes(path)) : null;
  const pieces = decodeChunked(blocks(path, format, blockBytes), format);
  while (true) {
    let next;
    try {
      next = await pieces.next();
    } catch (err) {
      throw decodeFailure(err);
    }
    if (next.done) break;
    const { channelData: channels, sampleRate } = next.value;
    if (!rs) {
      if (!(sampleRate > 0) || !Number.isInteger(sampleRate)) {
        throw new DecodeError(`invalid sample rate ${sampleRate}`);
      }
      rs = new ResampleStream(rate = sampleRate);
      onInfo?.({ sampleRate, channels: channels.length });
    } else if (sampleRate !== rate) {
      throw new DecodeError(`sample rate changes from ${rate} to ${sampleRate} in the file`);
    }
    checkChannels(channels);
    if (scaling) rescaleIntPcm(channels, scaling);
    // Copied: a mono piece is the decoder's own array, which it may reuse.
    const out = rs.push(channels.length === 1 ? channels[0]!.slice() : downmix(channels));
    if (out.length) yield out;
  }
  if (!rs) throw new DecodeError("no audio samples could be decoded (truncated or corrupt file)");
  const rest = rs.end();
  if (rest.length) yield rest;
}

/** The first bytes of the file (for the FLAC bit depth). */
function streamHeadBytes(path: string): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  return readAt(file, 0, HEAD);
}
