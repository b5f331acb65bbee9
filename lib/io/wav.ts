/**
 * WAV writers: what the demo, the generated event set, the benchmarks and
 * the tests write (the readers are the decoders in lib/audio). A 44-byte
 * RIFF/WAVE header, then the samples, little-endian.
 *
 * @module
 */

/**
 * The 44-byte header of a WAV file whose samples (`dataBytes` of them, coded
 * as `format`: 1 PCM, 3 IEEE float) follow it, for writers that stream them.
 *
 * @example
 * ```ts
 * const head = wavHeader(1, 16, 44100, 2, frames * 4); // then the frames, written as they come
 * ```
 */
export function wavHeader(
  format: 1 | 3,
  bits: 16 | 32,
  rate: number,
  channels: number,
  dataBytes: number,
): Uint8Array {
  const out = new Uint8Array(44);
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  const frame = channels * bits / 8;
  tag(0, "RIFF");
  dv.setUint32(4, 36 + dataBytes, true);
  tag(8, "WAVEfmt ");
  dv.setUint32(16, 16, true); // fmt chunk size
  dv.setUint16(20, format, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * frame, true); // byte rate
  dv.setUint16(32, frame, true); // block align
  dv.setUint16(34, bits, true);
  tag(36, "data");
  dv.setUint32(40, dataBytes, true);
  return out;
}

/** A WAV file: {@link wavHeader}, then `body`. */
function wavFile(
  format: 1 | 3,
  bits: 16 | 32,
  rate: number,
  channels: number,
  body: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(44 + body.byteLength);
  out.set(wavHeader(format, bits, rate, channels, body.byteLength));
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
