"""Writes fixtures/audio/long_125s_8k.flac: 125 s of an 8 kHz mono 16-bit chirp at low level
(small once compressed), past the cache build's 2-minute streaming threshold. Needs Debian `flac`."""
import subprocess
import tempfile
import wave

import numpy as np

RATE, SECONDS = 8000, 125
t = np.arange(RATE * SECONDS) / RATE
x = 0.004 * np.sin(2 * np.pi * (200 + 2 * t) * t)
pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
    with wave.open(tmp.name, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    subprocess.run(
        ["flac", "-s", "-f", "-8", "-o", "fixtures/audio/long_125s_8k.flac", tmp.name], check=True
    )
