"""Hostile-client probes against a real API server on 127.0.0.1, with and without the hardening.

Starts the API (uvicorn, SQLite in a temporary directory) in a child process, then:

- sends a request whose header never ends (``--header-mb`` MB of one header value, 64 KiB per
  write) and prints how many bytes the server took before answering, its answer, and how much its
  peak RSS grew (``VmHWM`` from /proc);
- prints the status of a few malformed requests (400-digit nonce, ``offset=2**63``,
  ``duration_seconds: true``, a NAT64 webhook target) and the credits left;
- makes ``--guesses`` requests with a wrong API key, each with a new ``X-Forwarded-For``, and prints
  how many were refused with 429 (the anonymous limit is 60 per minute per client, and the probes
  before count too).

``--server capped`` (default) serves with :func:`tuneforge.api.http_server.uvicorn_options`;
``--server uvicorn`` with uvicorn's defaults (httptools with no header cap, X-Forwarded-For
believed from 127.0.0.1), i.e. how the API was served before. Everything stays on 127.0.0.1; the
loops are bounded. One line per probe::

    python bench/bench_api_hostile.py [--server capped|uvicorn] [--header-mb 64] [--guesses 65]
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def serve(args: argparse.Namespace) -> None:
    """The child process: the API on ``args.port`` until killed."""
    import uvicorn

    from tuneforge.api.app import create_app
    from tuneforge.api.http_server import uvicorn_options
    from tuneforge.api.settings import ApiSettings
    from tuneforge.store import Store

    state = Path(args.state)
    settings = ApiSettings(database_url=f"sqlite:///{state / 'tf.db'}", audio_dir=str(state / "audio"),
                           host="127.0.0.1", port=args.port)
    store = Store(settings.database_url, settings.audio_dir)
    app = create_app(store=store, settings=settings)
    options = uvicorn_options(settings) if args.server == "capped" else {}
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="error", access_log=False,
                                  lifespan="on", **options)).run()


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def endless_header(port: int, megabytes: int) -> tuple[int, str]:
    """Send a header of ``megabytes`` MB (then end the request); returns (bytes sent, status line)."""
    chunk = b"a" * 65536
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        try:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: bench\r\nX-Big: ")
            while sent < megabytes * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\nConnection: close\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while data := sock.recv(65536):
                reply += data
        except (ConnectionResetError, TimeoutError):
            pass
    return sent, reply.split(b"\r\n", 1)[0].decode(errors="replace") or "(no answer)"


def probe(args: argparse.Namespace) -> int:
    from tuneforge import netutils
    from tuneforge.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        store = Store(f"sqlite:///{state / 'tf.db'}", state / "audio")
        account = store.create_account(name="bench", plan="premier", credits=100)
        _, key = store.create_api_key(account["id"])
        store.close()
        port = netutils.free_port("127.0.0.1")
        child = subprocess.Popen([sys.executable, __file__, "--serve", "--state", str(state), "--port", str(port),
                                  "--server", args.server])
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/api/v1/health", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
            before = peak_rss_kib(child.pid)
            sent, status = endless_header(port, args.header_mb)
            grown = peak_rss_kib(child.pid) - before
            print(f"server={args.server} probe=header_{args.header_mb}MB sent_bytes={sent} answer={status!r} "
                  f"server_peak_rss_growth_mb={grown / 1024:.1f}")
            with httpx.Client(base_url=base, timeout=10) as client:
                auth = {"Authorization": f"Bearer {key}"}
                checks = {
                    "nonce_400_digits": client.get("/api/v1/scores/best", headers={
                        "X-Validator-Hotkey": "5Fake", "X-Validator-Nonce": "1" * 400,
                        "X-Validator-Signature": "0x00"}).status_code,
                    "offset_2**63": client.get(f"/api/v1/music/generations?offset={2**63}", headers=auth).status_code,
                    "duration_true": client.post("/api/v1/music/generate", headers=auth,
                                                 json={"prompt": "x", "duration_seconds": True}).status_code,
                    "webhook_nat64_metadata": client.post("/api/v1/music/generate", headers=auth, json={
                        "prompt": "x", "webhook_url": "http://[64:ff9b::a9fe:a9fe]/"}).status_code,
                }
                balance = client.get("/api/v1/account/me", headers=auth).json().get("credits")
                print(f"server={args.server} probe=malformed " + " ".join(f"{k}={v}" for k, v in checks.items())
                      + f" credits_left={balance} (of 100)")
                codes = [client.get("/api/v1/account/me", headers={
                    "Authorization": "Bearer tf_guess", "X-Forwarded-For": f"198.51.100.{i % 250}"}).status_code
                    for i in range(args.guesses)]
                print(f"server={args.server} probe=xff_rotation guesses={args.guesses} "
                      f"refused_429={codes.count(429)} answered_401={codes.count(401)}")
        finally:
            child.terminate()
            child.wait(timeout=20)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("capped", "uvicorn"), default="capped")
    parser.add_argument("--header-mb", type=int, default=64)
    parser.add_argument("--guesses", type=int, default=65)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return 0
    return probe(args)


if __name__ == "__main__":
    sys.exit(main())
