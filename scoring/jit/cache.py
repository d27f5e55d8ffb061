"""The JIT cache policy: choose numba's cache directory, verify and copy the sealed cache, build it once.

Layout under the base directory (``$TUNEFORGE_JIT_CACHE_DIR``; else ``<venv>/var/tuneforge-jit``
when Python runs from a writable virtual environment; else ``$XDG_CACHE_HOME/tuneforge/jit``)::

    <base>/<key>/                one per install (:func:`install_info`: Python, numba, llvmlite,
                                 numpy and librosa versions, librosa's source files, CPU)
        key.json                 what the key stands for
        build.lock               held exclusively by the one process building a generation
        dir.lock                 exclusive to move ``current`` or delete a generation; shared
                                 while a process copies a generation
        current                  the sealed generation's name
        failed                   when and why the last build failed (removed by a success)
        gen-<utc>-<hex>/         a sealed generation: numba's files and MANIFEST.json (size and
                                 SHA-256 of every file), never written after sealing
        staging-<hex>/           a generation being built by the warm-up child
        run/<pid>-<hex>/         one per live process: its verified copy, the only directory numba
                                 reads or writes in that process
        run/<pid>-<hex>.lock     held (shared) by that process while it lives

Every process reads only what it verified and writes only its own directory, so processes started
together cannot corrupt each other's kernels, and a sealed generation that was changed on disk
(truncated, overwritten, files swapped) is detected before numba loads any of it.
"""

import atexit
import contextlib
import fcntl
import hashlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import json
import logging
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scoring.jit.warmup import WARMUP_VERSION

__all__ = [
    "BASE_ENV",
    "BUILD_DIR_ENV",
    "BUILD_TIMEOUT_ENV",
    "CacheCorrupt",
    "JitCache",
    "Selection",
    "default_base",
    "ensure_warm",
    "install_info",
    "key_name",
    "select",
    "status",
    "warm_before_serving",
]

logger = logging.getLogger("scoring.jit")

#: Base directory override (an operator's choice: a writable volume, a shared fast disk).
BASE_ENV = "TUNEFORGE_JIT_CACHE_DIR"
#: Set only in the warm-up child: the staging directory numba writes into.
BUILD_DIR_ENV = "TUNEFORGE_JIT_BUILD_DIR"
#: Seconds the warm-up child may run (default :data:`DEFAULT_BUILD_TIMEOUT_S`).
BUILD_TIMEOUT_ENV = "TUNEFORGE_JIT_BUILD_TIMEOUT"

#: Layout and manifest format; a change makes a new key, so old caches are never misread.
FORMAT = 1
#: A cold compile takes 35–40 s on one free core; a loaded machine may need several times that.
DEFAULT_BUILD_TIMEOUT_S = 900.0
#: A process waits this much longer than a build may take for another process's build.
WAIT_MARGIN_S = 60.0
#: Bounds on what a manifest may list (the real cache is ~60 files, ~3 MB).
MAX_FILES = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
#: A run directory whose lock nobody holds is removed once its lock file is this old (seconds).
STALE_RUN_S = 60.0
#: The warm-up the child runs (``module:function``).
DEFAULT_WORKLOAD = "scoring.jit.warmup:run_warmup"

MANIFEST_NAME = "MANIFEST.json"
_GEN_RE = re.compile(r"^gen-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
_SAFE_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_CHUNK = 1 << 20


class CacheCorrupt(Exception):
    """A sealed generation that does not match its manifest (or has none): never loaded."""


@dataclass(frozen=True)
class Selection:
    """What this process gave numba.

    ``mode``: ``"sealed"`` (a verified copy of the sealed generation), ``"fresh"`` (an empty private
    directory: no sealed cache yet, it failed verification, or it could not be built),
    ``"build"`` (this process is the warm-up child) or ``"late"`` (librosa was imported before the
    choice, so its kernels use whatever directory was set then). ``numba_dir``: the directory in
    ``NUMBA_CACHE_DIR``. ``generation``: the sealed generation copied, if any.
    """

    mode: str
    numba_dir: Path
    key_dir: Path | None
    generation: str | None
    reason: str


# --- what identifies an install ------------------------------------------------------------------


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _package_stamp(name: str) -> str:
    """Digest of (path, mtime, size) of a package's ``.py`` files, found without importing it.

    numba marks a cached kernel stale when its source file's mtime or size changes, so a reinstall
    of the same librosa version must change the key (else every process would recompile).
    """
    try:
        # PathFinder directly: no import hook (ours included) sees this probe
        spec = importlib.machinery.PathFinder.find_spec(name)
    except (ImportError, ValueError):
        return "absent"
    if spec is None or not spec.submodule_search_locations:
        return "absent"
    root = Path(next(iter(spec.submodule_search_locations)))
    h = hashlib.sha256(str(root).encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fname in sorted(filenames):
            if fname.endswith(".py"):
                st = os.stat(os.path.join(dirpath, fname))
                h.update(
                    f"{os.path.relpath(os.path.join(dirpath, fname), root)}:{st.st_mtime_ns}:{st.st_size};".encode()
                )
    return h.hexdigest()[:16]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "Model", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return ""  # no /proc (macOS): the machine name is all the key has
    return ""


def install_info() -> dict[str, Any]:
    """What a cache is valid for: a different value anywhere means a different cache directory."""
    return {
        "format": FORMAT,
        "warmup": WARMUP_VERSION,
        "python": platform.python_version() + getattr(sys, "abiflags", ""),
        "implementation": sys.implementation.cache_tag,
        "prefix": sys.prefix,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "packages": {name: _dist_version(name) for name in ("numba", "llvmlite", "numpy", "librosa")},
        "librosa_sources": _package_stamp("librosa"),
    }


def key_name(info: dict[str, Any]) -> str:
    """A readable, unique directory name for ``info``: ``py311-numba0.68.1-librosa0.11.0-<digest>``."""
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
    pkgs = info.get("packages", {})
    py = "".join(str(info.get("python", "")).split(".")[:2])
    name = f"py{py}-numba{pkgs.get('numba', '')}-librosa{pkgs.get('librosa', '')}-{digest}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def _usable_dir(path: Path) -> bool:
    """``path`` exists (or can be made) and this process can create files in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _user_cache_base() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "tuneforge" / "jit"


def _temp_base() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tuneforge-jit-{uid}"


def default_base() -> Path:
    """The base directory: ``$TUNEFORGE_JIT_CACHE_DIR``, else inside the virtual environment (the
    cache lives and goes with the install), else the user's cache directory."""
    env = os.environ.get(BASE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.prefix != sys.base_prefix:
        venv = Path(sys.prefix) / "var" / "tuneforge-jit"
        if _usable_dir(venv):
            return venv
    return _user_cache_base()


# --- logging that is never silent ---------------------------------------------------------------


def _say(level: int, message: str) -> None:
    """Log ``message``; before the process configured logging (the JIT is chosen at import time),
    write it to stderr anyway, so a long warm-up is never a silent stall."""
    if logger.hasHandlers():
        logger.log(level, message)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.handle(logger.makeRecord(logger.name, level, __file__, 0, message, None, None))


# --- files ---------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp.{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _scan(root: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every regular file under ``root`` (numba's unfinished ``.tmp.`` files left out)."""
    files: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            if ".tmp." in fname or fname == MANIFEST_NAME:
                continue
            path = Path(dirpath) / fname
            if path.is_symlink() or not path.is_file():
                continue
            h = hashlib.sha256()
            size = 0
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    size += len(chunk)
                    h.update(chunk)
            files[path.relative_to(root).as_posix()] = {"size": size, "sha256": h.hexdigest()}
    return files


def _safe_relpath(rel: object) -> bool:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        return False
    parts = rel.split("/")
    return len(parts) <= 4 and all(_SAFE_PART_RE.match(p) and p not in (".", "..") for p in parts)


def _read_manifest(gen_dir: Path) -> dict[str, Any]:
    path = gen_dir / MANIFEST_NAME
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError as exc:
        raise CacheCorrupt(f"{MANIFEST_NAME} is missing") from exc
    except OSError as exc:
        raise CacheCorrupt(f"{MANIFEST_NAME} cannot be read: {exc}") from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        raise CacheCorrupt(f"{MANIFEST_NAME} is over {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheCorrupt(f"{MANIFEST_NAME} is not valid JSON") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CacheCorrupt(f"{MANIFEST_NAME} lists no files")
    return manifest


def _check_manifest(manifest: dict[str, Any], key: str) -> list[tuple[str, int, str]]:
    """The manifest's entries as ``(relpath, size, sha256)``, after checking every one is well formed."""
    if manifest.get("format") != FORMAT or manifest.get("key") != key:
        raise CacheCorrupt("the manifest is for another install or format")
    files = manifest["files"]
    if not files or len(files) > MAX_FILES:
        raise CacheCorrupt(f"the manifest lists {len(files)} files")
    entries: list[tuple[str, int, str]] = []
    total = 0
    for rel, meta in files.items():
        if not _safe_relpath(rel):
            raise CacheCorrupt(f"the manifest names an unsafe path {str(rel)[:80]!r}")
        if not isinstance(meta, dict):
            raise CacheCorrupt(f"{rel}: malformed manifest entry")
        size, digest = meta.get("size"), meta.get("sha256")
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or not isinstance(digest, str)
            or not re.fullmatch(r"[0-9a-f]{64}", digest)
        ):
            raise CacheCorrupt(f"{rel}: malformed manifest entry")
        total += size
        entries.append((rel, size, digest))
    if total > MAX_TOTAL_BYTES:
        raise CacheCorrupt(f"the manifest lists {total} bytes")
    return sorted(entries)


def _copy_verified(gen_dir: Path, entries: list[tuple[str, int, str]], dest: Path) -> None:
    """Copy every listed file of ``gen_dir`` into ``dest``, hashing the very bytes written.

    Each file lands by rename, so numba (in another thread of this process) never reads half a file.
    Raises :class:`CacheCorrupt` at the first file that is missing, has another size or another digest.
    """
    for rel, size, digest in entries:
        src, dst = gen_dir / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.copy.{secrets.token_hex(4)}")
        h = hashlib.sha256()
        n = 0
        try:
            with open(src, "rb") as fi, open(tmp, "wb") as fo:
                while chunk := fi.read(_CHUNK):
                    n += len(chunk)
                    if n > size:
                        break
                    h.update(chunk)
                    fo.write(chunk)
            if n != size:
                raise CacheCorrupt(f"{rel}: {'over ' if n > size else ''}{n} bytes, the manifest says {size}")
            if h.hexdigest() != digest:
                raise CacheCorrupt(f"{rel}: SHA-256 differs from the manifest")
            os.replace(tmp, dst)
        except FileNotFoundError as exc:
            if not src.exists():
                raise CacheCorrupt(f"{rel}: missing") from exc
            raise
        except IsADirectoryError as exc:
            raise CacheCorrupt(f"{rel}: not a file") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _describe_rc(rc: int) -> str:
    if rc < 0:
        import signal

        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"status {rc}"


def _last_line(f: Any) -> str:
    f.seek(0)
    lines = [ln.strip() for ln in f.read()[-8192:].decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


# --- numba ---------------------------------------------------------------------------------------


def _point_numba(path: Path) -> None:
    """Make ``path`` numba's cache directory for every kernel created from now on.

    numba reads ``NUMBA_CACHE_DIR`` when it is imported (and re-reads the environment when it
    compiles); each kernel binds its directory when it is decorated, i.e. when librosa's modules are
    imported — which is why this runs before ``import librosa``.
    """
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        numba_config.CACHE_DIR = str(path)


class _WarmBeforeLibrosa(importlib.abc.MetaPathFinder):
    """Import hook: the first ``import librosa`` (from any module) first makes the cache warm.

    It wraps the loader the other finders find, so the warm-up runs when librosa's module body is
    about to run, not when someone merely probes for it (``importlib.util.find_spec("librosa")``).
    """

    def __init__(self, cache: "JitCache") -> None:
        self.cache = cache

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "librosa":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _WarmingLoader(spec.loader, self.cache)
                return spec
        return None


class _WarmingLoader(importlib.abc.Loader):
    """librosa's own loader, preceded by :meth:`JitCache.ensure_warm`."""

    def __init__(self, loader: Any, cache: "JitCache") -> None:
        self._loader = loader
        self._cache = cache

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._cache.remove_hook()
        try:
            self._cache.ensure_warm()
        except OSError as exc:
            _say(
                logging.WARNING, f"audio-analysis JIT warm-up failed ({exc}); kernels compile in this process"
            )
        self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)  # get_resource_reader, is_package, get_filename ...


# --- the policy ----------------------------------------------------------------------------------


class JitCache:
    """The cache policy for one process (module functions use one shared instance).

    ``base``: the base directory (default :func:`default_base`). ``workload``: the warm-up the
    build child runs, ``module:function``. ``build_timeout_s``: how long that child may run;
    ``wait_timeout_s``: how long a process waits for another's build before compiling alone.
    """

    def __init__(
        self,
        base: Path | str | None = None,
        *,
        workload: str = DEFAULT_WORKLOAD,
        build_timeout_s: float | None = None,
        wait_timeout_s: float | None = None,
    ) -> None:
        self.base = Path(base) if base is not None else default_base()
        self.info = install_info()
        self.key = key_name(self.info)
        self.workload = workload
        if build_timeout_s is None:
            build_timeout_s = float(os.environ.get(BUILD_TIMEOUT_ENV) or DEFAULT_BUILD_TIMEOUT_S)
        self.build_timeout_s = float(build_timeout_s)
        self.wait_timeout_s = float(
            wait_timeout_s if wait_timeout_s is not None else self.build_timeout_s + WAIT_MARGIN_S
        )
        self.selection: Selection | None = None
        self._lock = threading.RLock()
        self._hook: _WarmBeforeLibrosa | None = None
        self._run_dir: Path | None = None
        self._run_lock_fd: int | None = None
        self._owner_pid = os.getpid()
        self._bad_generation: str | None = None
        self._build_attempted = False
        self._warned = False
        self._warm_in_process_done = False

    @property
    def key_dir(self) -> Path:
        return self.base / self.key

    # -- selection (cheap; at import time) --

    def select(self) -> Selection:
        """Choose numba's directory for this process (idempotent). Never loads a kernel."""
        with self._lock:
            if self.selection is not None:
                return self.selection
            build_dir = os.environ.get(BUILD_DIR_ENV)
            if build_dir:
                sel = Selection(
                    "build", Path(build_dir), None, None, "warm-up child writing a new generation"
                )
                _point_numba(sel.numba_dir)
                self.selection = sel
                return sel
            late = "librosa" in sys.modules
            inherited = os.environ.get("NUMBA_CACHE_DIR")
            sel = self._select_in(self.base)
            if sel is None and self.base != _user_cache_base():
                _say(logging.INFO, f"JIT cache base {self.base} is not writable; using {_user_cache_base()}")
                self.base = _user_cache_base()
                sel = self._select_in(self.base)
            if sel is None:
                self.base = _temp_base()
                sel = self._select_in(self.base)
            if sel is None:
                run = Path(tempfile.mkdtemp(prefix="tuneforge-jit-"))
                sel = Selection(
                    "fresh", run, None, None, "no writable cache directory; kernels compile in this process"
                )
                self._run_dir = run
                atexit.register(self._remove_run_dir)
                self._build_attempted = True  # nowhere to build
            if inherited and inherited != str(sel.numba_dir):
                logger.debug(
                    "NUMBA_CACHE_DIR=%s from the environment replaced by %s", inherited, sel.numba_dir
                )
            _point_numba(sel.numba_dir)
            if late:
                sel = replace(sel, mode="late", reason="librosa was imported before the JIT cache was chosen")
                _say(
                    logging.WARNING,
                    "librosa was imported before scoring.jit chose numba's cache; its kernels "
                    f"use {inherited or 'the directory beside its sources'} (import scoring first)",
                )
            elif sel.mode == "fresh" and not self._build_attempted:
                self._install_hook()
            self.selection = sel
            return sel

    def _select_in(self, base: Path) -> Selection | None:
        """Set up a run directory under ``base`` and copy the sealed generation into it; None if ``base``
        cannot be written."""
        key_dir = base / self.key
        if not _usable_dir(key_dir):
            return None
        try:
            info_path = key_dir / "key.json"
            if not info_path.exists():
                _write_atomic(info_path, json.dumps(self.info, indent=1, sort_keys=True).encode())
            run_dir = self._new_run_dir(key_dir / "run")
        except OSError as exc:
            logger.debug("cannot set up a run directory under %s: %s", key_dir, exc)
            return None
        return self._adopt_current(run_dir, key_dir)

    def _new_run_dir(self, run_root: Path) -> Path:
        run_root.mkdir(parents=True, exist_ok=True)
        self._sweep_runs(run_root)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(run_root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        run_dir = run_root / name
        run_dir.mkdir()
        tempfile.TemporaryFile(dir=run_dir).close()  # numba checks the same before using a directory
        self._run_dir, self._run_lock_fd, self._owner_pid = run_dir, fd, os.getpid()
        atexit.register(self._remove_run_dir)
        return run_dir

    @staticmethod
    def _sweep_runs(run_root: Path) -> None:
        """Remove the run directories of processes that are gone (their lock is free)."""
        now = time.time()
        for lock_path in run_root.glob("*.lock"):
            try:
                if now - lock_path.stat().st_mtime < STALE_RUN_S:
                    continue  # maybe a process that has created its lock file but not locked it yet
                fd = os.open(lock_path, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # its process is alive
            try:
                shutil.rmtree(run_root / lock_path.stem, ignore_errors=True)
                lock_path.unlink(missing_ok=True)
            finally:
                os.close(fd)

    def _remove_run_dir(self) -> None:
        if os.getpid() != self._owner_pid or self._run_dir is None:
            return  # a forked child must not remove its parent's directory
        shutil.rmtree(self._run_dir, ignore_errors=True)
        if self._run_lock_fd is not None:
            with contextlib.suppress(OSError):
                (self._run_dir.parent / f"{self._run_dir.name}.lock").unlink()
            with contextlib.suppress(OSError):
                os.close(self._run_lock_fd)
            self._run_lock_fd = None
        self._run_dir = None

    @contextlib.contextmanager
    def _flock(self, key_dir: Path, name: str, *, shared: bool) -> Iterator[None]:
        fd = os.open(key_dir / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _read_current(key_dir: Path) -> str | None:
        try:
            raw = (key_dir / "current").read_bytes()[:256]
        except FileNotFoundError:
            return None
        name = raw.decode("ascii", "replace").strip()
        if not _GEN_RE.match(name):
            raise CacheCorrupt("'current' names no generation")
        if not (key_dir / name).is_dir():
            raise CacheCorrupt(f"generation {name} is missing")
        return name

    def _adopt_current(self, run_dir: Path, key_dir: Path) -> Selection:
        """Copy the sealed generation into ``run_dir``, all of it or nothing; a fresh selection if there
        is none or any part fails verification (one warning line per process).

        All or nothing because numba's files are only consistent as one compile's output: a gufunc's
        cached wrapper finds its kernel by a name that holds a per-process compile counter, so a
        wrapper loaded beside a kernel compiled again (its data file dropped as damaged) is called
        through a dangling symbol — SIGSEGV (docs/jit.md, "Why all or nothing"). The files are
        verified into ``run_dir/.incoming`` and moved into place only once every one has passed, so
        ``run_dir`` never holds part of a generation.
        """
        gen: str | None = None
        incoming = run_dir / ".incoming"
        try:
            with self._flock(key_dir, "dir.lock", shared=True):
                gen = self._read_current(key_dir)
                if gen is None:
                    return Selection("fresh", run_dir, key_dir, None, "no sealed cache yet")
                entries = _check_manifest(_read_manifest(key_dir / gen), self.key)
                shutil.rmtree(incoming, ignore_errors=True)
                incoming.mkdir()
                _copy_verified(key_dir / gen, entries, incoming)
            for rel, _, _ in entries:  # each lands by rename: numba never reads half a file
                (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(incoming / rel, run_dir / rel)
        except CacheCorrupt as exc:
            self._bad_generation = gen or "current"
            where = key_dir / gen if gen else key_dir
            if not self._warned:
                self._warned = True
                _say(
                    logging.WARNING,
                    f"JIT cache {where} failed verification ({exc}); none of it is loaded: "
                    "this process starts from a fresh cache directory and the cache is rebuilt",
                )
            return Selection("fresh", run_dir, key_dir, None, f"sealed cache failed verification: {exc}")
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        return Selection("sealed", run_dir, key_dir, gen, "verified copy of the sealed cache")

    # -- hook --

    def _install_hook(self) -> None:
        if self._hook is None:
            self._hook = _WarmBeforeLibrosa(self)
            sys.meta_path.insert(0, self._hook)

    def remove_hook(self) -> None:
        """Stop warming at ``import librosa`` (done once, by the hook itself or by :meth:`ensure_warm`)."""
        hook, self._hook = self._hook, None
        if hook is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(hook)

    # -- warming (at install, process start or first import of librosa) --

    def ensure_warm(self, *, in_process: bool = False, rebuild: bool = False) -> Selection:
        """Make the sealed cache exist and this process use a verified copy of it.

        Builds it (once per install, under ``build.lock``, in a child process) when there is none or
        it failed verification; ``rebuild`` builds a new generation even when one is sealed. With
        ``in_process`` the warm-up workload also runs here, so the first real analysis finds every
        kernel loaded. Returns the selection now in force.
        """
        with self._lock:
            sel = self.select()
            self.remove_hook()
            if sel.mode in ("build", "late"):
                return sel
            if (sel.mode == "fresh" or rebuild) and not self._build_attempted and sel.key_dir is not None:
                self._build_attempted = True
                sel = self._build_or_adopt(sel, rebuild=rebuild)
                self.selection = sel
            if in_process and not self._warm_in_process_done:
                self._warm_in_process(sel)
            return sel

    def _build_or_adopt(self, sel: Selection, *, rebuild: bool) -> Selection:
        key_dir = sel.key_dir
        assert key_dir is not None and self._run_dir is not None
        t0 = time.monotonic()
        started_wall = time.time()
        fd = os.open(key_dir / "build.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            waited = False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                waited = True
                _say(
                    logging.INFO,
                    "another process is warming the audio-analysis JIT (first run only, ~40 s); "
                    f"waiting for it (up to {self.wait_timeout_s:.0f} s) …",
                )
                if not self._wait_lock(fd, t0 + self.wait_timeout_s):
                    _say(
                        logging.WARNING,
                        f"gave up waiting for the audio-analysis JIT warm-up after "
                        f"{time.monotonic() - t0:.0f} s; this process compiles its own kernels",
                    )
                    return sel
            if not rebuild:
                # Sealed by a process that held the lock before us (we waited for it, or it finished
                # between our selection and our taking the lock)?
                adopted = self._adopt_current(self._run_dir, key_dir)
                if adopted.mode == "sealed" and adopted.generation != self._bad_generation:
                    if waited:
                        _say(
                            logging.INFO,
                            f"audio-analysis JIT warm: built by another process, "
                            f"waited {time.monotonic() - t0:.1f} s",
                        )
                    return adopted
                failure = self._failure_since(key_dir, started_wall) if waited else None
                if failure is not None:
                    # The build we waited for failed: one failure is enough, do not repeat it here.
                    _say(
                        logging.WARNING,
                        f"the audio-analysis JIT warm-up failed in another process "
                        f"({failure}); this process compiles its own kernels",
                    )
                    return sel
            _say(logging.INFO, "warming the audio-analysis JIT (first run only, ~40 s) …")
            gen = self._build_generation(key_dir)
            if gen is None:
                # this process keeps what it had (a verified copy when ``rebuild`` replaced a sealed one)
                return replace(sel, reason=f"{sel.reason}; the warm-up could not build the cache")
            adopted = self._adopt_current(self._run_dir, key_dir)
            if adopted.mode == "sealed":
                _say(
                    logging.INFO,
                    f"audio-analysis JIT warm in {time.monotonic() - t0:.1f} s (sealed {key_dir / gen})",
                )
            return adopted
        finally:
            os.close(fd)

    @staticmethod
    def _failure_since(key_dir: Path, since: float) -> str | None:
        """The reason of a build that failed after ``since`` (wall-clock seconds), if one did."""
        try:
            record = json.loads((key_dir / "failed").read_bytes()[:65536])
            when, reason = float(record["time"]), str(record["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return reason[:300] if when >= since else None

    @staticmethod
    def _wait_lock(fd: int, deadline: float) -> bool:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.25)

    def _build_generation(self, key_dir: Path) -> str | None:
        """Run the warm-up child into a staging directory and seal it; the generation's name, or None
        (one warning line) when the child failed, crashed or ran too long. Caller holds build.lock."""
        with self._flock(key_dir, "dir.lock", shared=False):
            for stale in key_dir.glob("staging-*"):
                shutil.rmtree(stale, ignore_errors=True)
        staging = key_dir / f"staging-{secrets.token_hex(4)}"
        staging.mkdir()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env[BUILD_DIR_ENV] = str(staging)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-m", "scoring.jit", "build", "--workload", self.workload]
        reason: str | None = None
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run(
                    cmd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    timeout=self.build_timeout_s,
                    check=False,
                )
                if proc.returncode != 0:
                    reason = (
                        f"the warm-up child exited with {_describe_rc(proc.returncode)}: {_last_line(err)}"
                    )
            except subprocess.TimeoutExpired:
                reason = f"the warm-up child ran past {self.build_timeout_s:.0f} s"
        files: dict[str, dict[str, Any]] = {}
        if reason is None:
            files = _scan(staging)
            if not any(rel.endswith(".nbi") for rel in files):
                reason = "the warm-up compiled no cacheable kernel"
        if reason is not None:
            shutil.rmtree(staging, ignore_errors=True)
            _write_atomic(key_dir / "failed", json.dumps({"time": time.time(), "reason": reason}).encode())
            _say(
                logging.WARNING,
                f"could not build the audio-analysis JIT cache ({reason}); "
                "this process compiles its own kernels",
            )
            return None
        gen = f"gen-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
        manifest = {
            "format": FORMAT,
            "key": self.key,
            "info": self.info,
            "workload": self.workload,
            "created": time.time(),
            "files": files,
        }
        _write_atomic(staging / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True).encode())
        os.rename(staging, key_dir / gen)
        (key_dir / "failed").unlink(missing_ok=True)
        with self._flock(key_dir, "dir.lock", shared=False):
            _write_atomic(key_dir / "current", f"{gen}\n".encode())
            for old in key_dir.glob("gen-*"):
                if old.name != gen:
                    shutil.rmtree(old, ignore_errors=True)
        return gen

    def _warm_in_process(self, sel: Selection) -> None:
        from scoring.jit import warmup

        self._warm_in_process_done = True
        t0 = time.monotonic()
        if sel.mode == "sealed":
            _say(logging.INFO, "loading the audio-analysis JIT kernels (warm cache) …")
        else:
            _say(logging.INFO, "compiling the audio-analysis JIT in this process (~40 s) …")
        warmup.run_warmup()
        _say(logging.INFO, f"audio-analysis JIT ready in {time.monotonic() - t0:.1f} s")

    # -- reporting --

    def status(self) -> dict[str, Any]:
        """Where this process stands: base, key, mode, numba's directory, and the kernel files this
        process compiled itself (index files that differ from the sealed generation's)."""
        sel = self.select()
        compiled_here: list[str] = []
        if sel.mode == "sealed" and sel.key_dir is not None and sel.generation is not None:
            try:
                sealed = _read_manifest(sel.key_dir / sel.generation)["files"]
            except CacheCorrupt:
                sealed = {}
            for rel, meta in _scan(sel.numba_dir).items():
                if rel.endswith(".nbi") and sealed.get(rel, {}).get("sha256") != meta["sha256"]:
                    compiled_here.append(rel)
        elif sel.numba_dir.is_dir():
            compiled_here = [rel for rel in _scan(sel.numba_dir) if rel.endswith(".nbi")]
        return {
            "base": str(self.base),
            "key": self.key,
            "key_dir": str(sel.key_dir) if sel.key_dir else None,
            "mode": sel.mode,
            "generation": sel.generation,
            "numba_dir": str(sel.numba_dir),
            "reason": sel.reason,
            "compiled_here": sorted(compiled_here),
            "info": self.info,
        }


_default: JitCache | None = None
_default_lock = threading.Lock()


def _instance() -> JitCache:
    global _default
    with _default_lock:
        if _default is None:
            _default = JitCache()
        return _default


def select() -> Selection:
    """Choose numba's cache directory for this process (see :meth:`JitCache.select`)."""
    return _instance().select()


def ensure_warm(*, in_process: bool = False, rebuild: bool = False) -> Selection:
    """Build the sealed cache if needed and use it (see :meth:`JitCache.ensure_warm`)."""
    return _instance().ensure_warm(in_process=in_process, rebuild=rebuild)


def status() -> dict[str, Any]:
    """This process's JIT cache status (see :meth:`JitCache.status`)."""
    return _instance().status()


def warm_before_serving(role: str, *, in_process: bool) -> Selection:
    """Warm the JIT at a server's start, before it accepts work, and say so in one log line.

    ``role`` names the process in that line (``"validator"``, ``"miner"``, ``"localnet"``).
    ``in_process``: also load every kernel here (a process that scores clips); without it the
    sealed cache is built if needed and verified into this process's directory, and a kernel loads
    from that copy when first used (a process that may analyse audio but does not score).
    """
    t0 = time.monotonic()
    sel = ensure_warm(in_process=in_process)
    done = (
        "kernels loaded" if in_process and sel.mode != "late" else "cache verified, kernels load at first use"
    )
    _say(
        logging.INFO,
        f"{role}: audio-analysis JIT ready before serving ({done}; {sel.mode}: {sel.reason}; "
        f"{time.monotonic() - t0:.1f} s; numba cache {sel.numba_dir})",
    )
    return sel
