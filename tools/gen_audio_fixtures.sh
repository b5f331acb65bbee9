#!/usr/bin/env bash
# Regenerates fixtures/audio/: small clips with structure (speech, chirps,
# tones, noise bursts) in every container/codec `atst featurize` claims to
# read, edge cases (silence, clips shorter than one FFT window, a 13 s clip)
# and bad inputs. Needs sox, ffmpeg and espeak-ng (apt-get install -y sox
# ffmpeg espeak-ng). Deterministic: sox runs in repeatable mode, ffmpeg
# writes bit-exact headers without metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=fixtures/audio
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/codecs" "$OUT/bad"

SOX=(sox -R -D -V1)
FF=(ffmpeg -nostdin -loglevel error -y -i)
FFOPT=(-map_metadata -1 -fflags +bitexact -flags:a +bitexact)

# --- a 14 s master at 48 kHz: speech + a slow chirp + a tone + noise bursts ---
espeak-ng -s 150 -w "$TMP/speech.wav" \
  "Audio teacher student transformer. Seven, eight, nine. \
   The quick brown fox jumps over the lazy dog. Features are sixty four mel bands."
"${SOX[@]}" "$TMP/speech.wav" -r 48000 -b 32 -e floating-point "$TMP/sp.wav" pad 0.2 14 trim 0 14
"${SOX[@]}" -n -r 48000 -b 32 -e floating-point "$TMP/chirp.wav" synth 14 sine 150+6000 vol 0.15
"${SOX[@]}" -n -r 48000 -b 32 -e floating-point "$TMP/tone.wav" synth 14 sine 440 vol 0.08
"${SOX[@]}" -n -r 48000 -b 32 -e floating-point "$TMP/burst1.wav" synth 0.08 whitenoise vol 0.3 pad 0.3 0.32
"${SOX[@]}" "$TMP/burst1.wav" "$TMP/bursts.wav" repeat 20 trim 0 14
"${SOX[@]}" -m "$TMP/sp.wav" "$TMP/chirp.wav" "$TMP/tone.wav" "$TMP/bursts.wav" \
  -b 32 -e floating-point "$TMP/master.wav" norm -3
# A second, different channel for the stereo clip.
"${SOX[@]}" -n -r 48000 -b 32 -e floating-point "$TMP/right.wav" synth 14 sine 3000-300 vol 0.3
"${SOX[@]}" -m "$TMP/right.wav" "$TMP/bursts.wav" "$TMP/right2.wav"

# clip SRC OFFSET DURATION RATE OUT [sox output options...]
clip() {
  local src=$1 off=$2 dur=$3 rate=$4 out=$5
  shift 5
  "${SOX[@]}" "$src" "$@" "$out" trim "$off" "$dur" rate -v "$rate"
}

# --- edge cases and rates (WAV) ---
"${SOX[@]}" -M "$TMP/master.wav" "$TMP/right2.wav" "$TMP/stereo.wav"
clip "$TMP/stereo.wav" 0.5 0.6 44100 "$OUT/stereo_44k.wav" -b 16
clip "$TMP/master.wav" 1.0 0.6 8000 "$OUT/mono_8k.wav" -b 16
"${SOX[@]}" -n -r 16000 -b 16 -c 1 "$OUT/silence_16k.wav" trim 0 0.5
for n in 300 512 700; do
  "${SOX[@]}" "$TMP/master.wav" -b 16 "$OUT/short_$n.wav" rate -v 16000 trim 1.2 "${n}s"
done
# 13 s at 16 kHz, lossless (FLAC) so every decoder sees the same samples.
"${SOX[@]}" "$TMP/master.wav" -b 16 "$TMP/long.wav" rate -v 16000 trim 0 13
"${FF[@]}" "$TMP/long.wav" "${FFOPT[@]}" -c:a flac -compression_level 8 "$OUT/long_13s.flac"

# --- one short clip per container/codec (0.4 s from 1.0 s, mono) ---
C=$OUT/codecs
clip "$TMP/master.wav" 1.0 0.4 11025 "$C/wav_u8.wav" -b 8 -e unsigned-integer
clip "$TMP/master.wav" 1.0 0.4 22050 "$C/wav_s16.wav" -b 16
clip "$TMP/master.wav" 1.0 0.4 16000 "$C/wav_s24.wav" -b 24
clip "$TMP/master.wav" 1.0 0.4 16000 "$C/wav_s32.wav" -b 32 -e signed-integer
clip "$TMP/master.wav" 1.0 0.4 16000 "$C/wav_f32.wav" -b 32 -e floating-point
clip "$TMP/master.wav" 1.0 0.4 8000 "$C/wav_f64.wav" -b 64 -e floating-point
clip "$TMP/master.wav" 1.0 0.4 16000 "$C/aiff.aiff" -b 16
clip "$TMP/master.wav" 1.0 0.4 22050 "$TMP/c22.wav" -b 16
clip "$TMP/master.wav" 1.0 0.4 44100 "$TMP/c44.wav" -b 16
clip "$TMP/master.wav" 1.0 0.4 48000 "$TMP/c48.wav" -b 16
"${FF[@]}" "$TMP/c22.wav" "${FFOPT[@]}" -c:a flac "$C/flac.flac"
"${FF[@]}" "$TMP/c44.wav" "${FFOPT[@]}" -c:a libmp3lame -b:a 64k "$C/mp3.mp3"
"${FF[@]}" "$TMP/c44.wav" "${FFOPT[@]}" -c:a libvorbis -q:a 2 "$C/vorbis.ogg"
"${FF[@]}" "$TMP/c48.wav" "${FFOPT[@]}" -c:a libopus -b:a 32k "$C/opus.opus"
"${FF[@]}" "$TMP/c44.wav" "${FFOPT[@]}" -c:a aac -b:a 64k "$C/aac.m4a"
"${FF[@]}" "$TMP/c48.wav" "${FFOPT[@]}" -c:a libopus -b:a 32k "$C/webm.webm"

# --- bad inputs ---
B=$OUT/bad
: >"$B/empty.wav"
printf 'This is a text file, not audio.\n' >"$B/text.wav"
# A WAV whose header promises data that was cut off after 40 bytes.
head -c 40 "$OUT/mono_8k.wav" >"$B/truncated.wav"
# Binary bytes that are no audio at all, under an MP3 name.
head -c 4096 /dev/zero >"$B/garbage.mp3"
# A FLAC stream cut off after its header; an MP4 container cut before its audio track.
head -c 200 "$C/flac.flac" >"$B/truncated_stream.flac"
head -c 300 "$C/aac.m4a" >"$B/corrupt.m4a"
# A real audio format that audio-decode does not read (Sun/NeXT .au).
clip "$TMP/master.wav" 1.0 0.1 8000 "$B/unsupported.au" -b 16

du -ab "$OUT" | sort -k2
