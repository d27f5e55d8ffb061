"""A headless Chromium for the tests, driven over the DevTools protocol (no tests here).

``async with HeadlessChromium(tmp_dir) as page:`` starts Debian's ``chromium`` (``--headless=new``,
its own throwaway profile, a free DevTools port it picks itself), attaches to its first tab over
the DevTools websocket and yields a :class:`Page`: navigate, evaluate JavaScript (promises
awaited), wait for a condition, take a screenshot, and read every console error, uncaught
exception and failed resource load the page produced. :func:`chromium_path` finds the browser
(None when it is not installed; ``scripts/test.sh`` installs it).
"""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

__all__ = ["HeadlessChromium", "Page", "chromium_path"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The Chromium executable on PATH, or None."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


class Page:
    """One tab: ``send`` DevTools commands, collect its console errors in :attr:`errors`."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.errors: list[str] = []
        self.console: list[str] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message:
                future = self._waiting.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                self._event(message.get("method", ""), message.get("params") or {})

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                self.errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            self.errors.append(
                "uncaught: " + str((details.get("exception") or {}).get("description") or details.get("text"))
            )
        elif method == "Log.entryAdded":
            entry = params.get("entry") or {}
            if entry.get("level") == "error":
                self.errors.append(
                    f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
                )

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """The ``result`` of one DevTools command (raises RuntimeError with the protocol's error)."""
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        await self.ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result") or {}

    async def evaluate(self, expression: str, *, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression (a promise is awaited); raises on a JS exception."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return (result.get("result") or {}).get("value")

    async def wait_for(self, expression: str, *, timeout: float = 30.0, what: str = "") -> Any:
        """Evaluate ``expression`` every 0.2 s until it is truthy; its value (TimeoutError names ``what``)."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what or expression}")
            await asyncio.sleep(0.2)

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    async def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (beyond the viewport) written to ``path``."""
        result = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await self._reader


class HeadlessChromium:
    """Start Chromium headless with a profile under ``work_dir``; ``async with`` yields a :class:`Page`."""

    def __init__(
        self, work_dir: Path, *, width: int = 1280, height: int = 900, start_timeout_s: float = 30.0
    ) -> None:
        self.work_dir = Path(work_dir)
        self.width, self.height = width, height
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.page: Page | None = None
        self._ws: Any = None

    def _start(self) -> int:
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        profile = self.work_dir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        args = [
            exe,
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        log = open(self.work_dir / "chromium.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"chromium exited with {self.process.returncode}; see {self.work_dir / 'chromium.log'}"
                )
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError(f"chromium did not open its DevTools port within {self.start_timeout_s:.0f} s")

    async def __aenter__(self) -> Page:
        port = await asyncio.to_thread(self._start)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        tab = next(t for t in targets if t.get("type") == "page")
        self._ws = await websockets.connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.page = Page(self._ws)
        for domain in ("Page", "Runtime", "Log"):
            await self.page.send(f"{domain}.enable")
        await self.page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self.page

    async def __aexit__(self, *exc: object) -> None:
        if self.page is not None:
            await self.page.close()
        if self._ws is not None:
            await self._ws.close()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the renderer and GPU processes too
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                await asyncio.to_thread(self.process.wait, 10)
