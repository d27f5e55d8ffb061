"""The signal registry: published signal name → ``compute(ctx) -> float`` in [0, 1].

Weight-free signals live next to this module; the neural ones (clap, neural_quality,
vocal_lyrics, diversity, preference) raise ``Unavailable`` when their models are absent.
Order follows ``constants.SIGNAL_WEIGHTS``.
"""

from collections.abc import Callable

from scoring import constants as C
from scoring.signals import (
    attribute,
    clap,
    diversity,
    learned_mos,
    melody,
    mix_separation,
    musicality,
    neural_quality,
    preference,
    production,
    quality,
    speed,
    structural,
    timbral,
    vocal,
    vocal_lyrics,
)
from scoring.signals.base import SignalContext

__all__ = ["SIGNALS", "WEIGHT_FREE"]

_MODULES = (
    clap, attribute, musicality, melody, structural, production, neural_quality, vocal, quality,
    vocal_lyrics, mix_separation, timbral, learned_mos, diversity, speed, preference,
)

SIGNALS: dict[str, Callable[[SignalContext], float]] = {name: None for name in C.SIGNAL_WEIGHTS}  # type: ignore[misc]
for _module in _MODULES:
    SIGNALS[_module.NAME] = _module.compute
assert set(SIGNALS) == set(C.SIGNAL_WEIGHTS) and all(SIGNALS.values()), "signal registry incomplete"

#: Signals computed without any downloaded model weights (the in-wheel listeners, musicnn and
#: basic-pitch, count as weight-free: every install has them).
WEIGHT_FREE = (
    "attribute", "musicality", "melody", "structural", "production", "vocal", "quality",
    "mix_separation", "timbral", "learned_mos", "neural_quality", "diversity", "speed",
)
