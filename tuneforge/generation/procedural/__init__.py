"""Weight-free procedural music: a composer (harmony, melody, bass, drums, form) and a numpy synth.

:class:`ProceduralBackend` is TuneForge's default generator; see ``docs/procedural.md``.
"""

from tuneforge.generation.procedural.backend import ProceduralBackend

__all__ = ["ProceduralBackend"]
