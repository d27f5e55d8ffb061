"""Audio intake: encoding float audio for the wire and strictly validating received audio."""

from tuneforge.audio.intake import (
    MAX_CHANNELS,
    MAX_DECODED_BYTES,
    MAX_DURATION_SECONDS,
    MAX_SAMPLE_RATE,
    MIN_DURATION_SECONDS,
    MIN_SAMPLE_RATE,
    AudioRejected,
    DecodedAudio,
    decode_audio_b64,
    decode_audio_bytes,
    encode_audio,
    encode_audio_b64,
)

__all__ = [
    "AudioRejected",
    "DecodedAudio",
    "decode_audio_b64",
    "decode_audio_bytes",
    "encode_audio",
    "encode_audio_b64",
    "MAX_DECODED_BYTES",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
]
