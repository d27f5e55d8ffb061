"""Where numba keeps librosa's compiled kernels, for every process that runs the scoring code.

librosa compiles numba kernels on first use and caches them on disk. Left to itself the cache lands
next to librosa's sources, shared by every process of the install, and processes started together
leave it corrupt (an index written by one process, data files by another); a process that later
loads such a kernel dies with SIGSEGV, which no ``try`` can catch. This package makes the choice
for every TuneForge process (miner, validator, CLI, tests, scripts), whatever its shell exported:

* :func:`select` (run when ``scoring`` is imported, before anything imports librosa) verifies
  the install's sealed cache against its manifest of SHA-256 digests and copies it into a
  directory private to this process, which it points numba at; a cache that fails verification
  is never loaded (one log line, then a fresh directory).
* :func:`ensure_warm` builds the sealed cache once per install when there is none (or it failed
  verification): one process, under a file lock, runs the warm-up workload in a child process
  into a staging directory, then seals it; the others wait for it. It runs by itself at the
  first ``import librosa``, and explicitly at install (``python -m scoring.jit warm``) and, through
  :func:`warm_before_serving`, at the start of the neurons and ``tuneforge localnet`` before they
  accept work, each with a log line saying what it does.

docs/jit.md describes the layout, the guarantees and the knobs.
"""

from scoring.jit.cache import (
    BASE_ENV,
    BUILD_TIMEOUT_ENV,
    JitCache,
    Selection,
    default_base,
    ensure_warm,
    install_info,
    select,
    status,
    warm_before_serving,
)

__all__ = [
    "BASE_ENV",
    "BUILD_TIMEOUT_ENV",
    "JitCache",
    "Selection",
    "default_base",
    "ensure_warm",
    "install_info",
    "select",
    "status",
    "warm_before_serving",
]
