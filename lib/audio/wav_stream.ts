/**
 * PCM and float WAV files read a range at a time, as mono 16 kHz samples
 * bit-identical to the whole-file path (decode.ts with audio-decode, the
 * k / 2^(b-1) scaling of pcm_scale.ts, the mean downmix, resample.ts), so
 * an hour-long file never has to be held whole.
 *
 * Resampling by windows is exact (resample_stream.ts `resampleWindow` says why).
 *
 * Anything but plain PCM (8/16/24/32-bit integer) or IEEE float (32/64 bit),
 * WAVE_FORMAT_EXTENSIBLE included, is left to the whole-file decoder (its
 * errors, A-law, ADPCM, odd headers): {@link openWav} returns null for it.
 *
 * @module
 */
import { checkFinite, DecodeError } from "./decode.ts";
import { resample } from "./resample.ts";
import { resampledLength, resampleWindow } from "./resample_stream.ts";
import { readAt } from "../io/read_at.ts";

/** Where the samples of a WAV file are and how they are coded. */
export interface WavLayout {
  codec: "pcm" | "float";
  bits: number;
  channels: number;
  sampleRate: number;
  /** Bytes per frame (all channels of one sample). */
  block: number;
  /** Byte offset of the first frame. */
  dataStart: number;
  /** Whole frames in the file (the declared data size, or less when the file is cut short). */
  frames: number;
}

/** The model's sample rate (load.ts's TARGET_RATE; repeated here to keep the import one way). */
const RATE = 16000;
/** Frames decoded per read while checking a float file for NaN. */
const SCAN_FRAMES = 1 << 16;

function ascii(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

/**
 * The layout of the WAV in `file` when it can be streamed, else null. The
 * chunk walk is audio-decode's (decode-wav: chunks are not padded to even
 * sizes), and an odd-sized chunk before `fmt ` (where pcm_scale.ts, which
 * pads, would read another header) is left to the whole-file path.
 */
export function readWavLayout(file: Deno.FsFile, fileSize: number): WavLayout | null {
  const head = readAt(file, 0, 12);
  if (head.length < 12 || ascii(head, 0) !== "RIFF" || ascii(head, 8) !== "WAVE") return null;
  let pos = 12;
  let fmt: Omit<WavLayout, "dataStart" | "frames"> | null = null;
  while (pos + 8 <= fileSize) {
    const h = readAt(file, pos, 8);
    if (h.length < 8) return null;
    const type = ascii(h, 0);
    const size = new DataView(h.buffer).getUint32(4, true);
    if (type === "fmt ") {
      const b = readAt(file, pos + 8, 40);
      if (b.length < 16) return null;
      const dv = new DataView(b.buffer, 0, b.length);
      let tag = dv.getUint16(0, true);
      if (tag === 0xfffe) {
        if (b.length < 40) return null;
        tag = dv.getUint16(24, true); // first 2 bytes of the SubFormat GUID
      }
      const channels = dv.getUint16(2, true), sampleRate = dv.getUint32(4, true);
      const block = dv.getUint16(12, true), bits = dv.getUint16(14, true);
      const codec = tag === 1 ? "pcm" : tag === 3 ? "float" : null;
      const plain = codec === "pcm" ? [8, 16, 24, 32].includes(bits) : bits === 32 || bits === 64;
      if (!codec || !plain || channels < 1 || sampleRate < 1) return null;
      if (block !== channels * bits / 8) return null;
      fmt = { codec, bits, channels, sampleRate, block };
    } else if (type === "data") {
      if (!fmt) return null;
      const dataStart = pos + 8;
      // 0 and 0xFFFFFFFF are streaming placeholders: the data runs to the end.
      const declared = size > 0 && size < 0xffffffff ? size : Infinity;
      const frames = Math.floor(Math.min(declared, fileSize - dataStart) / fmt.block);
      return frames > 0 ? { ...fmt, dataStart, frames } : null;
    } else if (!fmt && size % 2 === 1) {
      return null;
    }
    pos += 8 + size;
  }
  return null;
}

/**
 * Mono samples of frames [0, n) of `bytes` (n whole frames of `layout`):
 * each channel scaled as decode.ts leaves it, then averaged as `downmix`.
 */
function monoOf(bytes: Uint8Array, layout: WavLayout, n: number): Float32Array {
  const fast = monoFast(bytes, layout, n);
  if (fast) return fast;
  const { codec, bits, channels: c, block } = layout;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = bits / 8;
  const value = codec === "float"
    ? bits === 32
      ? (p: number) => dv.getFloat32(p, true)
      : (p: number) => Math.fround(dv.getFloat64(p, true))
    : bits === 8
    ? (p: number) => (bytes[p]! - 128) / 128
    : bits === 16
    ? (p: number) => dv.getInt16(p, true) / 32768
    : bits === 24
    ? (p: number) =>
      ((bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16)) << 8 >> 8) / 8388608
    : int32;
  function int32(p: number): number {
    const k = dv.getInt32(p, true);
    // audio-decode divides positives by 2^31 - 1; pcm_scale.ts maps them back in float64.
    return k < 0 ? Math.fround(k / 2147483648) : Math.fround(
      Math.fround(k / 2147483647) * 2147483647 * (1 / 2147483648),
    );
  }
  const out = new Float32Array(n);
  if (c === 1) {
    for (let i = 0; i < n; i++) out[i] = value(i * block);
  } else if (c === 2) {
    for (let i = 0; i < n; i++) out[i] = (value(i * block) + value(i * block + w)) / 2;
  } else {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += value(i * block + k * w);
      out[i] = s / c;
    }
  }
  return out;
}

/** True on little-endian hosts, where typed-array views read WAV samples as stored. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * {@link monoOf} for the common layouts (16/24-bit PCM and 32-bit float, one or two
 * channels) with one pass over the bytes, or null for the others. Same values: every
 * sample is exact in float64 (k / 2^(b-1), or the float itself), so the sum, the halving
 * and the one rounding to float32 at the store are the generic path's operations.
 */
function monoFast(bytes: Uint8Array, layout: WavLayout, n: number): Float32Array | null {
  const { codec, bits, channels: c } = layout;
  if (c > 2) return null;
  const out = new Float32Array(n);
  if (codec === "pcm" && bits === 24) {
    const at = (p: number) => (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16)) << 8 >> 8;
    if (c === 1) { for (let i = 0, p = 0; i < n; i++, p += 3) out[i] = at(p) / 8388608; }
    else for (let i = 0, p = 0; i < n; i++, p += 6) out[i] = (at(p) + at(p + 3)) / 16777216;
    return out;
  }
  const w = bits / 8;
  if (!LITTLE_ENDIAN || bytes.byteOffset % w !== 0) return null;
  if (codec === "pcm" && bits === 16) {
    const k = new Int16Array(bytes.buffer, bytes.byteOffset, n * c);
    if (c === 1) { for (let i = 0; i < n; i++) out[i] = k[i]! / 32768; }
    else for (let i = 0; i < n; i++) out[i] = (k[2 * i]! + k[2 * i + 1]!) / 65536;
    return out;
  }
  if (codec === "float" && bits === 32) {
    const f = new Float32Array(bytes.buffer, bytes.byteOffset, n * c);
    if (c === 1) out.set(f);
    else for (let i = 0; i < n; i++) out[i] = (f[2 * i]! + f[2 * i + 1]!) / 2;
    return out;
  }
  return null;
}

/**
 * A streamable WAV file: its 16 kHz mono samples by range. Each read opens
 * the file, so a source needs no closing.
 *
 * @example
 * ```ts
 * const wav = openWav("long.wav");
 * if (wav) use(wav.read(0, 16000)); // the first second, equal to loadAudio's
 * ```
 */
export class WavStream {
  /** Samples at 16 kHz: the length of the whole-file path's output. */
  readonly length: number;
  readonly sourceRate: number;
  readonly channels: number;

  constructor(readonly path: string, readonly layout: WavLayout) {
    this.sourceRate = layout.sampleRate;
    this.channels = layout.channels;
    this.length = resampledLength(layout.frames, layout.sampleRate);
  }

  /** Samples [start, end) at 16 kHz, the same values as the whole file's. */
  read(start: number, end: number): Float32Array {
    if (!(0 <= start && start <= end && end <= this.length)) {
      throw new RangeError(`Samples [${start}, ${end}) outside the file's ${this.length}`);
    }
    if (start === end) return new Float32Array(0);
    if (this.sourceRate === RATE) return this.#mono(start, end);
    const { w0, w1, o0 } = resampleWindow(start, end, this.layout.frames, this.sourceRate);
    const y = resample(this.#mono(w0, w1), this.sourceRate, RATE);
    return y.slice(start - o0, end - o0);
  }

  /** Mono source-rate samples of frames [a, b). */
  #mono(a: number, b: number): Float32Array {
    using file = Deno.openSync(this.path, { read: true });
    const { block, dataStart } = this.layout;
    const bytes = readAt(file, dataStart + a * block, (b - a) * block);
    if (bytes.length < (b - a) * block) {
      throw new DecodeError("the file became shorter while it was read");
    }
    return monoOf(bytes, this.layout, b - a);
  }
}

/**
 * `path` as a {@link WavStream}, or null when it is not a plain PCM or float
 * WAV (then decode it whole). A float file is checked for NaN and infinite
 * samples here, before any is used, as the whole-file decoder does; file
 * system errors are thrown as they come.
 */
export function openWav(path: string): WavStream | null {
  using file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  const layout = readWavLayout(file, size);
  if (!layout) return null;
  if (layout.codec === "float") {
    for (let a = 0; a < layout.frames; a += SCAN_FRAMES) {
      const n = Math.min(SCAN_FRAMES, layout.frames - a);
      const bytes = readAt(file, layout.dataStart + a * layout.block, n * layout.block);
      const x = monoOf(
        bytes,
        { ...layout, channels: 1, block: layout.bits / 8 },
        n * layout.channels,
      );
      checkFinite(x);
    }
  }
  return new WavStream(path, layout);
}
