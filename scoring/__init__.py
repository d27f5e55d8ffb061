"""TuneForge scoring: a clip and a request in, a ``ScoreBreakdown`` out.

A standalone package with no bittensor import, so miners can self-evaluate with the same code
validators run.
"""
