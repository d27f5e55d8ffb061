"""TuneForge: a Bittensor subnet for text-to-music generation.

``tuneforge`` holds the subnet (protocol, chain access, miner, validator, HTTP API, storage,
generation backends, local network and CLI); the standalone ``scoring`` package turns a clip
and a request into a ``ScoreBreakdown``.
"""

__version__ = "0.1.0"

#: Integer form of the version sent as ``version_key`` with ``set_weights``:
#: major * 1000 + minor * 10 + patch.
SPEC_VERSION = 10

__all__ = ["__version__", "SPEC_VERSION"]
