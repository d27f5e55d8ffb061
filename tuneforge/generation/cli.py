"""``tuneforge generate``: write the exact audio file a miner would send for one request.

The flags become a ``MusicGenerationSynapse`` (the wire request a validator sends); the backend
is built from a ``MinerConfig`` with the miner's own builder, and the request runs through the
miner's own answer path (:func:`tuneforge.miner.answer.answer`: spec, generation engine, output
checks, WAV PCM16 / FLAC encoding). The file written is the base64-decoded ``audio_b64`` a miner
with that backend returns, byte for byte, and the same flags give the same bytes on every run.

    tuneforge generate --prompt "calm jazz piano" --duration 10 --seed 7 --out clip.wav
    tuneforge generate --prompt "dark techno" --duration 20 --seed 3 --backend musicgen \\
        --model ~/.cache/tuneforge/models/musicgen-small --device cuda --out techno.wav
    tuneforge generate --prompt "indie pop ballad" --duration 30 --seed 5 --backend ace_step \\
        --vocals --lyrics $'[Verse]\\nCity lights are fading slow' --device cuda --out song.wav

Exit status: 0 when the file was written, 2 on bad flags or a backend that cannot run here,
1 when generation failed.
"""

import argparse
import base64
import logging
import os
import sys
import time

from tuneforge.generation.base import BACKENDS, DEFAULT_MODELS, GenerationSettings

__all__ = ["register", "run", "build_synapse"]

logger = logging.getLogger(__name__)

_SETTINGS = GenerationSettings()


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="Write the audio file a miner would send for one request (same seed, same bytes).",
        description="Generate one clip through the miner's own code path and write the file it would send.",
    )
    p.add_argument("--prompt", required=True, help="the text prompt")
    p.add_argument("--duration", required=True, type=float, help="requested duration in seconds (1-180)")
    p.add_argument("--seed", required=True, type=int, help="generation seed")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the audio file (WAV, or FLAC above 20 MiB)")
    p.add_argument("--genre", default="")
    p.add_argument("--mood", default="")
    p.add_argument("--tempo", type=int, default=None, help="tempo in quarter notes per minute (20-300)")
    p.add_argument("--key", default=None, help='key, e.g. "Eb minor"')
    p.add_argument("--time-signature", default=None, help='meter, e.g. "6/8"')
    p.add_argument("--instruments", default="", help="comma-separated instrument names")
    p.add_argument("--lyrics", default=None)
    p.add_argument("--vocals", action="store_true", help="ask for vocals")
    p.add_argument("--backend", choices=BACKENDS, default=_SETTINGS.backend,
                   help="generator, as the miner's --generation.backend (default procedural)")
    p.add_argument("--model", default=_SETTINGS.model,
                   help="neural backend's model: hub id in the local cache, or a local directory (--generation.model; "
                        f"default {DEFAULT_MODELS['musicgen']} / {DEFAULT_MODELS['ace_step']})")
    p.add_argument("--device", default=_SETTINGS.device, help="auto, cpu, cuda, cuda:N (--generation.device)")
    p.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default=_SETTINGS.precision,
                   help="neural backend precision (--generation.precision)")
    p.add_argument("--sample-rate", type=int, default=_SETTINGS.sample_rate,
                   help=f"procedural output rate in Hz (--generation.sample_rate, default {_SETTINGS.sample_rate})")
    p.add_argument("--soundfont", default=None,
                   help="procedural: General-MIDI SF2 path or 'auto' (--generation.soundfont)")
    p.set_defaults(func=run)


def build_synapse(args: argparse.Namespace):
    """The ``MusicGenerationSynapse`` a validator would send for these flags (pydantic checks the ranges)."""
    from tuneforge.protocol import MusicGenerationSynapse

    fields = {
        "prompt": args.prompt,
        "genre": args.genre or "",
        "mood": args.mood or "",
        "duration_seconds": float(args.duration),
        "key_signature": args.key,
        "time_signature": args.time_signature,
        "instruments": [i.strip() for i in args.instruments.split(",") if i.strip()] or None,
        "lyrics": args.lyrics,
        "vocals_requested": bool(args.vocals),
        "seed": int(args.seed),
    }
    if args.tempo is not None:
        fields["tempo_bpm"] = int(args.tempo)
    return MusicGenerationSynapse(**fields)


def _miner_config(args: argparse.Namespace):
    from tuneforge.miner.config import MinerConfig

    settings = GenerationSettings(
        backend=args.backend, model=args.model, device=args.device, precision=args.precision,
        sample_rate=int(args.sample_rate), soundfont=args.soundfont,
    )
    return MinerConfig(generation=settings, devices=(args.device,), queue_size=1, warmup_seconds=0.0)


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` (mode from the umask), then rename it."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from tuneforge.generation.base import BackendUnavailable
    from tuneforge.miner.answer import answer
    from tuneforge.miner.components import build_backends
    from tuneforge.miner.config import ConfigError
    from tuneforge.miner.engine import EngineRefused, GenerationEngine, GenerationFailed

    try:
        synapse = build_synapse(args)
        config = _miner_config(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"error: bad request: {problems}\n")
        return 2
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        sys.stderr.write(f"error: {args.out}: folder {out_dir} does not exist\n")
        return 2
    try:
        backends = build_backends(config)
    except BackendUnavailable as exc:
        sys.stderr.write(f"error: backend {args.backend} unavailable: {exc}\n")
        return 2
    engine = GenerationEngine(backends, queue_size=1)
    engine.start()
    try:
        result = asyncio.run(answer(synapse, engine, deadline=time.monotonic() + 1e7))
    except (EngineRefused, GenerationFailed) as exc:
        sys.stderr.write(f"error: generation failed: {exc}\n")
        return 1
    finally:
        engine.stop()
    data = base64.b64decode(synapse.audio_b64)
    _write_atomically(args.out, data)
    audio = result.audio
    sys.stdout.write(
        f"{args.out}: {audio.duration_seconds:g} s, {audio.sample_rate} Hz, {audio.samples.shape[0]} ch, "
        f"{len(data)} bytes ({'FLAC' if data[:4] == b'fLaC' else 'WAV'}), model {audio.model_id}, "
        f"generated in {result.generation_time_s:.2f} s\n"
    )
    return 0
