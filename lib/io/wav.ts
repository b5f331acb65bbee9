/**
 * WAV writers: what the demo, the generated event set, the benchmarks and
 * the tests write (the readers are the decoders in lib/audio). A 44-byte
 * RIFF/WAVE header, then the samples, little-endian.
 *
 * @module
 */

/** A WAV file: header for `format` (1 PCM, 3 IEEE float), then `body`. */
function wavFile(
  format: 1 | 3,
  bits: 16 | 32,
  rate: number,
  channels: number,
  body: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(44 + body.byteLength);
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  const frame = channels * bits / 8;
  tag(0, "RIFF");
  dv.setUint32(4, 36 + body.byteLength, true);
  tag(8, "WAVEfmt ");
  dv.setUint32(16, 16, true); // fmt chunk size
  dv.setUint16(20, format, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * frame, true); // byte rate
  dv.setUint16(32, frame, true); // block align
  dv.setUint16(34, bits, true);
  tag(36, "data");
  dv.setUint32(40, body.byteLength, true);
  out.set(body, 44);
  return out;
}

/**
 * A mono IEEE-float WAV file of `samples` (exact: no quantisation).
 *
 * @example
 * ```ts
 * await Deno.writeFile("tone.wav", floatWav(samples, 16000));
 * ```
 */
export function floatWav(samples: Float32Array, rate = 16000): Uint8Array {
  return wavFile(
    3,
    32,
    rate,
    1,
    new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength),
  );
}

/**
 * A 16-bit PCM WAV file of `samples` (interleaved when `channels` > 1),
 * each clipped to [-1, 1] and scaled by 32767.
 *
 * @example
 * ```ts
 * const stereo = pcm16Wav(interleaved, 44100, 2);
 * ```
 */
export function pcm16Wav(samples: ArrayLike<number>, rate = 16000, channels = 1): Uint8Array {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    pcm[i] = Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767);
  }
  return wavFile(1, 16, rate, channels, new Uint8Array(pcm.buffer));
}
