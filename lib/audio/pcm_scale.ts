/**
 * Integer PCM scaling made to match torchaudio/libsndfile/numpy: a b-bit
 * sample k becomes k / 2^(b-1). `audio-decode` uses other conventions: its
 * WAV decoder divides positive samples by 2^(b-1) - 1 (negatives by
 * 2^(b-1)), its FLAC decoder divides all samples by 2^(b-1) - 1. That is a
 * gain error of 3e-5 (16 bit), far below audibility, but it breaks
 * bit-exact agreement with the reference's input. We read the bit depth from
 * the header and map the decoded values back onto the k / 2^(b-1) grid.
 *
 * @module
 */

/** How a decoder scaled integer samples. */
export interface IntScaling {
  bits: number;
  /** "positive": only v > 0 were divided by 2^(b-1) - 1; "all": every sample was. */
  divided: "positive" | "all";
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}

/** Integer WAV (PCM or extensible PCM) bit depth, or null for float/compressed/unknown WAV. */
function wavIntBits(bytes: Uint8Array): number | null {
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== "RIFF" || ascii(bytes, 8, 4) !== "WAVE") {
    return null;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 12;
  while (p + 8 <= bytes.length) {
    const id = ascii(bytes, p, 4);
    const size = dv.getUint32(p + 4, true);
    if (id === "fmt " && p + 24 <= bytes.length) {
      let format = dv.getUint16(p + 8, true);
      const bits = dv.getUint16(p + 22, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first 2 bytes of the sub-format GUID.
      if (format === 0xfffe && p + 34 <= bytes.length) format = dv.getUint16(p + 32, true);
      return format === 1 && bits >= 8 && bits <= 32 ? bits : null;
    }
    p += 8 + size + (size & 1);
  }
  return null;
}

/** FLAC bits per sample from STREAMINFO, or null. */
function flacBits(bytes: Uint8Array): number | null {
  if (bytes.length < 22 || ascii(bytes, 0, 4) !== "fLaC") return null;
  return (((bytes[20]! & 0x01) << 4) | (bytes[21]! >> 4)) + 1;
}

/** The scaling audio-decode applied to these bytes, or null when none needs undoing. */
export function intScalingOf(bytes: Uint8Array): IntScaling | null {
  const wav = wavIntBits(bytes);
  if (wav !== null) return { bits: wav, divided: "positive" };
  const flac = flacBits(bytes);
  if (flac !== null && flac >= 4 && flac <= 32) return { bits: flac, divided: "all" };
  return null;
}

/**
 * In place: maps samples decoded with `scaling` onto k / 2^(b-1). Exact for
 * up to 24 bits (the integer is recovered by rounding); 32-bit values are
 * rescaled in float64 and rounded to float32.
 */
export function rescaleIntPcm(channels: Float32Array[], scaling: IntScaling): void {
  const full = 2 ** (scaling.bits - 1), up = full - 1, inv = 1 / full;
  // Rounding recovers the integer exactly up to 24 bits; the offset-and-truncate form
  // is a fast Math.round for these near-integer values (|x| < 2^31).
  const exact = scaling.bits <= 24;
  for (const ch of channels) {
    if (exact && scaling.divided === "all") {
      for (let i = 0; i < ch.length; i++) {
        const x = ch[i]! * up;
        ch[i] = ((x + (x >= 0 ? 0.5 : -0.5)) | 0) * inv;
      }
    } else if (exact) {
      for (let i = 0; i < ch.length; i++) {
        const x = ch[i]! * up;
        if (x > 0) ch[i] = ((x + 0.5) | 0) * inv;
      }
    } else {
      for (let i = 0; i < ch.length; i++) {
        if (scaling.divided === "all" || ch[i]! > 0) ch[i] = ch[i]! * up * inv;
      }
    }
  }
}
