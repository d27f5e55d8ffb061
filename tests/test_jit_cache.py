"""The JIT cache policy (scoring/jit): concurrent cold starts, corrupt or stale caches, crashing or
hanging warm-ups, inherited NUMBA_CACHE_DIR — no process may crash or load a kernel it did not verify.

The fast tests drive :class:`scoring.jit.JitCache` in subprocesses with a tiny numba module as the
warm-up (a second to compile); the slow ones run the real ``tuneforge score --json`` with the real
warm-up (a cold compile is 35–40 s on one core).
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from scoring.jit import cache as jc

REPO = Path(__file__).resolve().parents[1]

TINY_MODULE = '''
import os, signal, time
import numba
import numpy as np

@numba.njit(cache=True)
def add_one(x):
    return x + 1

@numba.njit(cache=True)
def total(a):
    s = 0.0
    for v in a:
        s += v
    return s

def run():
    """Every overload the warm-up compiles, with results known by construction."""
    return [add_one(41), add_one(1.5), total(np.arange(5.0)), total(np.arange(4))]

def warm():
    run()

def crash():
    run()
    os.kill(os.getpid(), signal.SIGSEGV)

def hang():
    time.sleep(120)

def fail():
    raise RuntimeError("the warm-up broke")
'''
TINY_RESULT = [42, 2.5, 10.0, 6.0]

DRIVER = """
import json, os, sys
base, workload, action = sys.argv[1:4]
from scoring.jit.cache import JitCache, _WarmBeforeLibrosa
cache = JitCache(base, workload=workload,
                 build_timeout_s=float(os.environ.get("TF_TEST_BUILD_TIMEOUT", "120")),
                 wait_timeout_s=float(os.environ.get("TF_TEST_WAIT_TIMEOUT", "180")))
first = cache.select()
hook = any(isinstance(f, _WarmBeforeLibrosa) and f.cache is cache for f in sys.meta_path)
sel = cache.ensure_warm() if action == "warm" else first
import numba.core.config
import tinyjit
out = {"first_mode": first.mode, "mode": sel.mode, "generation": sel.generation,
       "numba_dir": str(sel.numba_dir), "env": os.environ.get("NUMBA_CACHE_DIR"),
       "numba_config": numba.core.config.CACHE_DIR, "hook": hook, "result": tinyjit.run(),
       "compiled_here": cache.status()["compiled_here"]}
print(json.dumps(out))
"""


BUILDS = ": warming the audio-analysis JIT (first run only"  # the builder's line (waiters say "another process is ...")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the tiny numba module and the driver script (one per module: numba's
    cache paths include the module's directory, so a built cache can be copied between tests)."""
    mod_dir = tmp_path_factory.mktemp("mod")
    (mod_dir / "tinyjit.py").write_text(textwrap.dedent(TINY_MODULE))
    (mod_dir / "driver.py").write_text(textwrap.dedent(DRIVER))
    return mod_dir


def _env(tiny: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(tiny), str(REPO)])
    # The process-wide instance (chosen when the driver imports scoring) stays out of the venv.
    env[jc.BASE_ENV] = str(tmp_path / "unused-default")
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def _start(
    tiny: Path, tmp_path: Path, base: Path, workload: str = "tinyjit:warm", action: str = "warm", **extra: str
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(tiny / "driver.py"), str(base), workload, action],
        env=_env(tiny, tmp_path, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"driver exited {proc.returncode}\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1]), err


def _key_dir(base: Path) -> Path:
    (key_dir,) = [p for p in base.iterdir() if p.is_dir()]
    return key_dir


def _generations(base: Path) -> list[Path]:
    return sorted(_key_dir(base).glob("gen-*"))


@pytest.fixture(scope="module")
def built(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base with the tiny cache sealed once; tests take copies of it."""
    tmp = tmp_path_factory.mktemp("built")
    base = tmp / "base"
    _finish(_start(tiny, tmp, base))
    return base


def _copy_of(built: Path, tmp_path: Path) -> Path:
    base = tmp_path / "base"
    shutil.copytree(built, base)
    return base


# --- several processes, one install -------------------------------------------------------------


def test_processes_started_together_on_an_empty_cache_build_it_once(tiny: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    procs = [_start(tiny, tmp_path, base) for _ in range(4)]
    results = [_finish(p) for p in procs]
    outs = [o for o, _ in results]
    errs = "".join(e for _, e in results)
    assert all(o["result"] == TINY_RESULT for o in outs)
    # nothing sealed yet: the hook waits for librosa
    assert all(o["first_mode"] == "fresh" and o["hook"] for o in outs)
    assert all(o["mode"] == "sealed" for o in outs)
    assert len({o["generation"] for o in outs}) == 1 and len(_generations(base)) == 1
    assert errs.count(BUILDS) == 1  # one builder, three waited
    # every process got its own directory, told numba about it, and loaded (not compiled) every kernel
    dirs = {o["numba_dir"] for o in outs}
    assert len(dirs) == 4
    for o in outs:
        assert o["env"] == o["numba_config"] == o["numba_dir"]
        assert Path(o["numba_dir"]).parent == _key_dir(base) / "run"
        assert o["compiled_here"] == []
    assert not any(Path(d).exists() for d in dirs)  # removed when each process exited
    manifest = json.loads((_generations(base)[0] / jc.MANIFEST_NAME).read_text())
    assert sum(rel.endswith(".nbc") for rel in manifest["files"]) == 4  # 2 functions x 2 overloads


def test_a_warm_cache_is_copied_not_shared_and_never_written(tiny: Path, built: Path, tmp_path: Path) -> None:
    base = _copy_of(built, tmp_path)
    (gen,) = _generations(base)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in gen.rglob("*") if p.is_file()}
    out, err = _finish(_start(tiny, tmp_path, base, action="select"))
    assert out["first_mode"] == out["mode"] == "sealed" and not out["hook"]
    assert out["result"] == TINY_RESULT and out["compiled_here"] == []
    assert "warming" not in err
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in gen.rglob("*") if p.is_file()}
    assert after == before


def test_inherited_numba_cache_dir_is_replaced(tiny: Path, tmp_path: Path) -> None:
    """A shell's NUMBA_CACHE_DIR (the old scripts', a user's) does not decide where kernels go."""
    inherited = tmp_path / "inherited"
    inherited.mkdir()
    out, _ = _finish(_start(tiny, tmp_path, tmp_path / "base", NUMBA_CACHE_DIR=str(inherited)))
    assert out["mode"] == "sealed" and out["result"] == TINY_RESULT
    assert out["numba_config"] == out["numba_dir"] != str(inherited)
    assert list(inherited.iterdir()) == []


# --- stale or corrupt caches: detected before numba loads anything -------------------------------


def _corrupt(gen: Path, how: str) -> None:
    nbc = sorted(gen.rglob("*.nbc"))
    nbi = sorted(gen.rglob("*.nbi"))
    if how == "truncate":
        for f in nbc + nbi:
            f.write_bytes(f.read_bytes()[:40])
    elif how == "garbage":
        rng = np.random.default_rng(0)
        for f in nbc:
            f.write_bytes(rng.integers(0, 256, f.stat().st_size, dtype=np.uint8).tobytes())
    elif how == "swap":  # what two processes writing one cache at once leave: index and data disagree
        a, b = [f for f in nbc if "add_one" in f.name][:2]
        da, db = a.read_bytes(), b.read_bytes()
        a.write_bytes(db)
        b.write_bytes(da)
    elif how == "delete":
        nbc[0].unlink()
    elif how == "empty_file":
        nbi[0].write_bytes(b"")
    elif how == "manifest_garbage":
        (gen / jc.MANIFEST_NAME).write_bytes(b"\x00garbage{")
    elif how == "manifest_missing":
        (gen / jc.MANIFEST_NAME).unlink()
    elif how == "manifest_traversal":  # a manifest that would make the copy read outside the cache
        m = json.loads((gen / jc.MANIFEST_NAME).read_text())
        m["files"]["../../../etc/passwd"] = {"size": 1, "sha256": "0" * 64}
        (gen / jc.MANIFEST_NAME).write_text(json.dumps(m))
    elif how == "manifest_other_key":
        m = json.loads((gen / jc.MANIFEST_NAME).read_text())
        m["key"] = "py311-numba0.1-librosa0.1-0000000000000000"
        (gen / jc.MANIFEST_NAME).write_text(json.dumps(m))
    elif how == "current_garbage":
        (gen.parent / "current").write_bytes(b"../../elsewhere\n")
    elif how == "generation_missing":
        shutil.rmtree(gen)
    else:
        raise AssertionError(how)


CORRUPTIONS = [
    "truncate",
    "garbage",
    "swap",
    "delete",
    "empty_file",
    "manifest_garbage",
    "manifest_missing",
    "manifest_traversal",
    "manifest_other_key",
    "current_garbage",
    "generation_missing",
]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_every_corruption_is_detected_before_anything_is_copied(
    built: Path, tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = _copy_of(built, tmp_path)
    (gen,) = _generations(base)
    _corrupt(gen, how)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cache = jc.JitCache(base)  # selection logic only: nothing here touches numba or the environment
    with caplog.at_level("WARNING", logger="scoring.jit"):
        sel = cache._adopt_current(run_dir, _key_dir(base))
    assert sel.mode == "fresh" and sel.generation is None and "failed verification" in sel.reason
    assert list(run_dir.iterdir()) == []  # nothing unverified is left where numba looks
    assert len([r for r in caplog.records if "failed verification" in r.getMessage()]) == 1
    # the intact template still verifies: the check is not refusing everything
    intact = tmp_path / "intact"
    intact.mkdir()
    assert cache._adopt_current(intact, _key_dir(built)).mode == "sealed"


@pytest.mark.parametrize("how", ["truncate", "garbage", "swap"])
def test_a_corrupt_cache_is_never_loaded_and_is_rebuilt(
    tiny: Path, built: Path, tmp_path: Path, how: str
) -> None:
    base = _copy_of(built, tmp_path)
    (gen,) = _generations(base)
    _corrupt(gen, how)
    out, err = _finish(_start(tiny, tmp_path, base))
    assert out["first_mode"] == "fresh" and out["mode"] == "sealed"
    assert out["result"] == TINY_RESULT and out["compiled_here"] == []
    assert out["generation"] != gen.name and [g.name for g in _generations(base)] == [out["generation"]]
    warnings = [ln for ln in err.splitlines() if "failed verification" in ln]
    assert len(warnings) == 1, err  # the process says so in ONE line
    if how == "swap":  # and the rebuilt cache serves the next process as it is
        out2, err2 = _finish(_start(tiny, tmp_path, base, action="select"))
        assert out2["first_mode"] == "sealed" and out2["generation"] == out["generation"]
        assert "failed verification" not in err2


def test_corrupt_cache_with_processes_started_together(tiny: Path, built: Path, tmp_path: Path) -> None:
    base = _copy_of(built, tmp_path)
    (gen,) = _generations(base)
    _corrupt(gen, "swap")
    procs = [_start(tiny, tmp_path, base) for _ in range(2)]
    results = [_finish(p) for p in procs]
    assert all(o["result"] == TINY_RESULT and o["mode"] == "sealed" for o, _ in results)
    assert len({o["generation"] for o, _ in results}) == 1
    errs = "".join(e for _, e in results)
    assert errs.count(BUILDS) == 1  # rebuilt once
    assert all(e.count("failed verification") == 1 for _, e in results)


def test_unprotected_numba_is_hurt_by_the_same_corruption(tiny: Path, built: Path, tmp_path: Path) -> None:
    """Control: the corruptions above are real — numba pointed straight at them fails."""
    base = _copy_of(built, tmp_path)
    (gen,) = _generations(base)
    _corrupt(gen, "garbage")
    env = _env(tiny, tmp_path, NUMBA_CACHE_DIR=str(gen))
    proc = subprocess.run(
        [sys.executable, "-c", "import tinyjit; print(tinyjit.run())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # UnpicklingError on load (a swapped file is a SIGSEGV with librosa's kernels)
    assert proc.returncode != 0


# --- warm-ups that fail, crash or hang -----------------------------------------------------------


@pytest.mark.parametrize(
    ("workload", "says"), [("tinyjit:crash", "signal SIGSEGV"), ("tinyjit:hang", "ran past 3 s")]
)
def test_a_broken_warm_up_never_takes_the_process_down(
    tiny: Path, tmp_path: Path, workload: str, says: str
) -> None:
    base = tmp_path / "base"
    out, err = _finish(_start(tiny, tmp_path, base, workload=workload, TF_TEST_BUILD_TIMEOUT="3"))
    assert out["mode"] == "fresh" and out["result"] == TINY_RESULT  # compiled in its own directory
    lines = [ln for ln in err.splitlines() if "could not build the audio-analysis JIT cache" in ln]
    assert len(lines) == 1 and says in lines[0], err
    key_dir = _key_dir(base)
    assert not list(key_dir.glob("gen-*")) and not list(key_dir.glob("staging-*"))
    assert says.split()[-1] in json.loads((key_dir / "failed").read_text())["reason"]


def test_waiters_do_not_repeat_a_build_that_failed(tiny: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    procs = [_start(tiny, tmp_path, base, workload="tinyjit:fail") for _ in range(2)]
    results = [_finish(p) for p in procs]
    assert all(o["result"] == TINY_RESULT and o["mode"] == "fresh" for o, _ in results)
    errs = "".join(e for _, e in results)
    assert errs.count(BUILDS) == 1
    lines = [ln for ln in errs.splitlines() if "could not build" in ln or "failed in another process" in ln]
    assert len(lines) == 2 and all("the warm-up broke" in ln for ln in lines)
    key_dir = _key_dir(base)
    assert "the warm-up broke" in json.loads((key_dir / "failed").read_text())["reason"]
    # a later process with a working warm-up seals the cache and clears the failure
    out, _ = _finish(_start(tiny, tmp_path, base))
    assert out["mode"] == "sealed" and not (key_dir / "failed").exists()


def test_a_process_stops_waiting_for_a_stuck_builder(tiny: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    _finish(_start(tiny, tmp_path, base, action="select"))  # creates the key directory
    fd = os.open(_key_dir(base) / "build.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a builder that never finishes
    try:
        t0 = time.monotonic()
        out, err = _finish(_start(tiny, tmp_path, base, TF_TEST_WAIT_TIMEOUT="2"))
        assert time.monotonic() - t0 < 60
    finally:
        os.close(fd)
    assert out["mode"] == "fresh" and out["result"] == TINY_RESULT
    assert "waiting for it" in err and "gave up waiting" in err


# --- leftovers -----------------------------------------------------------------------------------


def test_run_directories_of_dead_processes_are_swept(tiny: Path, built: Path, tmp_path: Path) -> None:
    base = _copy_of(built, tmp_path)
    run_root = _key_dir(base) / "run"
    old = time.time() - 3600
    dead, alive = run_root / "999999-deadbeef", run_root / "888888-a11ea11e"
    for d in (dead, alive):
        d.mkdir()
        (d / "x.nbi").write_bytes(b"left behind")
        lock = run_root / f"{d.name}.lock"
        lock.write_bytes(b"")
        os.utime(lock, (old, old))
    fd = os.open(run_root / f"{alive.name}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)  # this one's process is still running
    try:
        _finish(_start(tiny, tmp_path, base, action="select"))
        assert not dead.exists() and not (run_root / f"{dead.name}.lock").exists()
        assert alive.exists()
    finally:
        os.close(fd)


def test_select_is_cheap_and_never_imports_numba_or_librosa(tmp_path: Path) -> None:
    code = (
        "import sys, scoring, json; from scoring import jit; "
        "print(json.dumps([m in sys.modules for m in ('numba', 'librosa', 'numpy')] + [jit.select().mode]))"
    )
    env = dict(os.environ, **{jc.BASE_ENV: str(tmp_path / "base")})
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [False, False, False, "fresh"]


# --- manifest checks (in this process) -----------------------------------------------------------


def _manifest(files: dict) -> dict:
    return {"format": jc.FORMAT, "key": "k", "files": files}


@pytest.mark.parametrize(
    "rel",
    [
        "../x.nbi",
        "/etc/passwd",
        "a/../../b",
        "a\\b",
        "",
        ".",
        "a//b",
        "run/../../x",
        "a/b/c/d/e.nbi",
        "x\n.nbi",
    ],
)
def test_manifest_paths_outside_the_generation_are_refused(rel: str) -> None:
    with pytest.raises(jc.CacheCorrupt):
        jc._check_manifest(_manifest({rel: {"size": 1, "sha256": "0" * 64}}), "k")


@pytest.mark.parametrize(
    "meta",
    [
        {"size": -1, "sha256": "0" * 64},
        {"size": True, "sha256": "0" * 64},
        {"size": 1, "sha256": "xyz"},
        {"size": 1.0, "sha256": "0" * 64},
        [1, "a"],
        None,
        {"size": jc.MAX_TOTAL_BYTES + 1, "sha256": "0" * 64},
    ],
)
def test_malformed_manifest_entries_are_refused(meta: object) -> None:
    with pytest.raises(jc.CacheCorrupt):
        jc._check_manifest(_manifest({"util_ab/f.nbi": meta}), "k")


def test_copy_verifies_the_bytes_it_writes(tmp_path: Path) -> None:
    gen, dest = tmp_path / "gen", tmp_path / "dest"
    (gen / "d").mkdir(parents=True)
    dest.mkdir()
    (gen / "d" / "a.nbi").write_bytes(b"hello")
    entries = jc._check_manifest(_manifest(jc._scan(gen)), "k")
    jc._copy_verified(gen, entries, dest)
    assert (dest / "d" / "a.nbi").read_bytes() == b"hello"
    (gen / "d" / "a.nbi").write_bytes(b"hellO")  # same size, other bytes
    shutil.rmtree(dest / "d")
    with pytest.raises(jc.CacheCorrupt, match="SHA-256"):
        jc._copy_verified(gen, entries, dest)
    assert list((dest / "d").iterdir()) == []  # nothing unverified is left for numba to read
    (gen / "d" / "a.nbi").write_bytes(b"hello, and more")
    with pytest.raises(jc.CacheCorrupt, match="bytes"):
        jc._copy_verified(gen, entries, dest)


def test_the_key_changes_with_anything_a_kernel_depends_on() -> None:
    info = jc.install_info()
    keys = {jc.key_name(info)}
    for field, value in [
        ("python", "3.12.1"),
        ("prefix", "/other/venv"),
        ("cpu", "another CPU"),
        ("librosa_sources", "0" * 16),
        ("warmup", info["warmup"] + 1),
    ]:
        keys.add(jc.key_name({**info, field: value}))
    keys.add(jc.key_name({**info, "packages": {**info["packages"], "numba": "0.61.0"}}))
    assert len(keys) == 7
    assert jc.key_name(info) == jc.key_name(json.loads(json.dumps(info)))  # stable


# --- the real thing: tuneforge score with librosa's kernels ---------------------------------------

CLIP_SECONDS = 5.0


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import soundfile as sf

    from scoring.music_theory import Key
    from scoring.synth import render_piece

    path = tmp_path_factory.mktemp("jitclip") / "clip.wav"
    sf.write(
        path,
        render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=CLIP_SECONDS, sample_rate=32_000, seed=5).T,
        32_000,
        subtype="FLOAT",
    )
    return path


def _score_cmd(clip: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tuneforge.cli",
        "score",
        str(clip),
        "--prompt",
        "a calm piece in D minor",
        "--duration",
        str(CLIP_SECONDS),
        "--tempo",
        "96",
        "--key",
        "D minor",
        "--json",
    ]


def _score_env(**extra: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _differences(out: dict, reference: dict) -> list[str]:
    """The top-level and signal fields where ``out`` differs from ``reference`` (for assertion messages)."""
    keys = sorted(set(out) | set(reference))
    diffs = [
        f"{k}: {out.get(k)!r} != {reference.get(k)!r}"
        for k in keys
        if k != "signals" and out.get(k) != reference.get(k)
    ]
    sig, ref = out.get("signals") or {}, reference.get("signals") or {}
    diffs += [
        f"signals.{k}: {sig.get(k)!r} != {ref.get(k)!r}"
        for k in sorted(set(sig) | set(ref))
        if sig.get(k) != ref.get(k)
    ]
    return diffs


def _run_scores(clip: Path, n: int, env: dict[str, str]) -> list[tuple[dict, str]]:
    procs = [
        subprocess.Popen(
            _score_cmd(clip), env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, f"tuneforge score exited {p.returncode}\n{err[-3000:]}"
        (line,) = out.strip().splitlines()
        results.append((json.loads(line), err))
    return results


@pytest.fixture(scope="module")
def reference(clip_path: Path) -> dict:
    """``tuneforge score --json`` as the scripts run it: the install's own cache, NUMBA_CACHE_DIR set."""
    ((out, _),) = _run_scores(
        clip_path,
        1,
        _score_env(
            NUMBA_CACHE_DIR=str(Path.home() / ".cache" / "tuneforge-numba"), TUNEFORGE_JIT_CACHE_DIR=None
        ),
    )
    return out


@pytest.fixture(scope="module")
def cold_start(
    clip_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[tuple[dict, str]]]:
    """Four ``tuneforge score`` processes started together on an empty cache base."""
    base = tmp_path_factory.mktemp("jitbase")
    return base, _run_scores(
        clip_path, 4, _score_env(TUNEFORGE_JIT_CACHE_DIR=str(base), NUMBA_CACHE_DIR=None)
    )


@pytest.mark.slow
def test_four_cold_processes_score_identically(cold_start, reference: dict) -> None:
    base, results = cold_start
    assert all(out == reference for out, _ in results), [_differences(o, reference) for o, _ in results]
    errs = "".join(err for _, err in results)
    assert errs.count(BUILDS) == 1, errs
    assert errs.count("waiting for it") == 3 and "failed verification" not in errs
    assert len(_generations(base)) == 1
    assert list((_key_dir(base) / "run").iterdir()) == []  # every process removed its copy


@pytest.mark.slow
def test_four_processes_on_a_corrupted_real_cache_score_correctly(
    cold_start, clip_path: Path, reference: dict, tmp_path: Path
) -> None:
    base, _ = cold_start
    (gen,) = _generations(base)
    nbc = sorted(gen.rglob("*.nbc"))
    nbi = sorted(gen.rglob("*.nbi"))
    assert len(nbc) >= 20
    for f in nbc[0::3]:  # truncated
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    for f in nbc[1::3]:  # garbage of the same size
        f.write_bytes(os.urandom(f.stat().st_size))
    for f in nbi[::4]:  # an index emptied
        f.write_bytes(b"")
    # and the concurrent-writers corruption: two overloads' data files exchanged
    beat = sorted(gen.rglob("beat.__beat_track_dp-*.nbc"))
    assert len(beat) >= 2
    a, b = beat[0].read_bytes(), beat[1].read_bytes()
    beat[0].write_bytes(b)
    beat[1].write_bytes(a)
    control = tmp_path / "control"
    shutil.copytree(gen, control)
    results = _run_scores(clip_path, 4, _score_env(TUNEFORGE_JIT_CACHE_DIR=str(base), NUMBA_CACHE_DIR=None))
    assert all(out == reference for out, _ in results), [_differences(o, reference) for o, _ in results]
    for _, err in results:
        assert err.count("failed verification") == 1, err
    errs = "".join(err for _, err in results)
    assert errs.count(BUILDS) == 1
    assert [g.name for g in _generations(base)] != [gen.name] and len(_generations(base)) == 1
    # control: the same files handed to numba directly take librosa down
    code = (
        "import numpy as np, librosa; y = np.random.default_rng(0).standard_normal(5 * 22050).astype(np.float32); "
        "print(librosa.beat.beat_track(y=y, sr=22050)[1][:3])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_score_env(NUMBA_CACHE_DIR=str(control)),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode != 0


def test_score_is_the_same_with_and_without_the_scripts_environment(clip_path: Path, reference: dict) -> None:
    """The old scripts exported NUMBA_CACHE_DIR; pm2 or a user's shell does not: same cache, same breakdown
    (``reference`` is the run with it)."""
    ((out, _),) = _run_scores(clip_path, 1, _score_env(NUMBA_CACHE_DIR=None, TUNEFORGE_JIT_CACHE_DIR=None))
    assert out == reference, _differences(out, reference)
    status = []
    for numba_dir in (str(Path.home() / ".cache" / "tuneforge-numba"), None):
        env = _score_env(NUMBA_CACHE_DIR=numba_dir, TUNEFORGE_JIT_CACHE_DIR=None)
        proc = subprocess.run(
            [sys.executable, "-m", "scoring.jit", "status"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        status.append(json.loads(proc.stdout))
    assert status[0]["key_dir"] == status[1]["key_dir"]
    assert status[0]["generation"] == status[1]["generation"] and status[0]["mode"] == "sealed"
    assert all(s["numba_dir"].startswith(s["key_dir"]) for s in status)


def test_no_kernel_is_compiled_after_the_warm_up(clip_path: Path) -> None:
    """The warm-up covers the scoring path: a process scoring a clip loads every kernel, compiles none."""
    code = textwrap.dedent(f"""
        import json
        from scoring import jit
        from scoring.audio import load_clip
        from scoring.request import ScoringRequest
        from scoring.scorer import Scorer
        jit.ensure_warm()
        clip = load_clip({str(clip_path)!r})
        Scorer().score(samples=clip.samples, sample_rate=clip.sample_rate,
                       request=ScoringRequest(prompt="x", duration_seconds={CLIP_SECONDS}))
        print(json.dumps(jit.status()))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_score_env(TUNEFORGE_JIT_CACHE_DIR=None),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    st = json.loads(proc.stdout.strip().splitlines()[-1])
    assert st["mode"] == "sealed" and st["compiled_here"] == []


def test_signal_name_helper() -> None:
    assert jc._describe_rc(-signal.SIGSEGV) == "signal SIGSEGV" and jc._describe_rc(3) == "status 3"


def test_probing_for_librosa_does_not_warm_importing_it_would(tmp_path: Path) -> None:
    """``find_spec("librosa")`` (transformers probes like this) leaves the hook armed and builds nothing;
    the spec it returns carries the warming loader, so the real import warms first."""
    code = (
        "import importlib.util, json, sys, scoring; from scoring.jit import cache as c; "
        "spec = importlib.util.find_spec('librosa'); "
        "print(json.dumps([type(spec.loader).__name__, any(isinstance(f, c._WarmBeforeLibrosa) for f in sys.meta_path), "
        "'librosa' in sys.modules, c.select().mode]))"
    )
    env = dict(os.environ, **{jc.BASE_ENV: str(tmp_path / "base")})
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["_WarmingLoader", True, False, "fresh"]
    assert "warming" not in proc.stderr and not list((tmp_path / "base").rglob("gen-*"))


def test_bittensor_muting_is_undone_for_tuneforge_loggers_only() -> None:
    """``import bittensor`` sets every logger that exists then to CRITICAL; scoring.jit exists by then
    in every entry point, and its warm-up and verification lines must still be seen."""
    import logging

    from tuneforge.neuron_config import restore_own_loggers

    ours, theirs = logging.getLogger("scoring.jit"), logging.getLogger("some_library.sub")
    saved = ours.level, theirs.level
    try:
        ours.setLevel(logging.CRITICAL)
        theirs.setLevel(logging.CRITICAL)
        restore_own_loggers()
        assert ours.level == logging.NOTSET and theirs.level == logging.CRITICAL
    finally:
        ours.setLevel(saved[0])
        theirs.setLevel(saved[1])


@pytest.mark.parametrize(("neuron", "in_process"), [("validator", True), ("miner", False)])
def test_neurons_warm_the_jit_before_they_build_anything_that_serves(
    neuron: str, in_process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_entry_{neuron}", REPO / "neurons" / f"{neuron}.py")
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    calls: list[object] = []
    cls = "Validator" if neuron == "validator" else "Miner"
    monkeypatch.setattr(entry, "configure_logging", lambda *a, **k: calls.append("logging"))
    monkeypatch.setattr(entry.jit, "warm_before_serving", lambda role, **k: calls.append(("warm", role, k)))
    monkeypatch.setattr(entry, cls, lambda config: calls.append("build") or "neuron")
    monkeypatch.setattr(entry, f"run_{neuron}", lambda n: calls.append(("run", n)) or 0)
    assert entry.main(["--netuid", "1", "--wallet.name", "w", "--wallet.hotkey", "h"]) == 0
    assert calls == ["logging", ("warm", neuron, {"in_process": in_process}), "build", ("run", "neuron")]


@pytest.mark.parametrize(
    ("argv", "scores"),
    [
        (["localnet"], True),
        (["api", "serve"], False),
        (["score", "x.wav", "--prompt", "p", "--duration", "5"], None),
        (["api", "account", "list"], None),
    ],
)
def test_cli_servers_warm_the_jit_and_say_whether_they_score(argv: list[str], scores: bool | None) -> None:
    from tuneforge import cli

    assert cli._serving(cli.build_parser().parse_args(argv)) is scores
