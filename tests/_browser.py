"""A small Chrome DevTools Protocol client over Chromium's debugging pipe.

Used by ``tests/test_browser.py`` and ``docs/make_figures.py`` to render pages
in headless Chromium, record what the page asked the network for and what
it logged, and take screenshots. No dependency beyond the standard library:
Chromium started with ``--remote-debugging-pipe`` reads NUL-terminated JSON
messages on file descriptor 3 and writes them on descriptor 4, so no port
and no websocket are needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: Executable names tried in order (Debian's packages first).
BROWSER_NAMES = (
    "chromium",
    "chromium-headless-shell",
    "chromium-browser",
    "google-chrome",
)

#: Flags for a quiet, private, offline-friendly headless browser.
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--mute-audio",
    "--remote-debugging-pipe",
)

# URLs that load nothing: inline data and blank pages.
INLINE = ("data:", "about:")


def find_browser() -> str | None:
    """``$SKKL_CHROMIUM`` or the first Chromium on PATH, else None."""
    explicit = os.environ.get("SKKL_CHROMIUM")
    if explicit:
        return explicit
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    """The browser died, timed out or answered a command with an error."""


def _child_pipes(read_fd: int, write_fd: int):
    """In the child: our pipe ends as descriptors 3 (commands) and 4 (replies)."""

    def setup():
        # First above 4, so that moving one onto 3 cannot close the other.
        r = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 5)
        w = fcntl.fcntl(write_fd, fcntl.F_DUPFD, 5)
        os.dup2(r, 3)
        os.dup2(w, 4)

    return setup


class Browser:
    """One headless Chromium with a fresh profile, driven over its pipe."""

    def __init__(self, executable: str, *, timeout: float = 30.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="skkl-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # The browser's log goes to a file: a pipe nobody reads could fill up
        # and stall the browser.
        self._log = open(Path(self._profile.name) / "stderr.log", "w+b")
        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={Path(self._profile.name) / 'profile'}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            close_fds=False,  # descriptors 3 and 4 must reach the browser
            preexec_fn=_child_pipes(cmd_r, out_w),
        )
        os.close(cmd_r)
        os.close(out_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    # -- protocol ----------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self._out_r], [], [], left)
            if ready:
                chunk = os.read(self._out_r, 1 << 20)
                if not chunk:
                    raise BrowserError(f"the browser exited: {self._stderr()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr(self) -> str:
        self.process.kill()
        self.process.wait()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def send(self, method: str, params: dict | None = None, session: str | None = None):
        """Run one command and return its result (events are kept in ``events``)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserError(f"the browser exited: {self._stderr()}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None) -> dict:
        """The first recorded event ``method`` of ``session``, waiting for it."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def new_page(
        self, width: int = 1024, height: int = 800, mobile: bool = False
    ) -> Page:
        """A fresh tab with the network, console and log recorded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": mobile,
            },
            session=session,
        )
        return Page(self, session, target)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        os.close(self._cmd_w)
        os.close(self._out_r)
        self._profile.cleanup()


class Page:
    """One tab: navigate, evaluate, screenshot, and what it logged or requested."""

    def __init__(self, browser: Browser, session: str, target: str):
        self.browser, self.session, self.target = browser, session, target
        self.url = None

    def send(self, method: str, params: dict | None = None):
        return self.browser.send(method, params, self.session)

    def goto(self, path: Path) -> None:
        """Load a local file and wait for its load event."""
        self.url = Path(path).resolve().as_uri()
        self.send("Page.navigate", {"url": self.url})
        self.browser.wait_event("Page.loadEventFired", self.session)

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, full_page: bool = True) -> bytes:
        """A PNG of the whole page (beyond the viewport), or of the viewport."""
        data = self.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": full_page},
        )["data"]
        return base64.b64decode(data)

    def _events(self, *methods):
        return [
            e["params"]
            for e in self.browser.events
            if e["method"] in methods and e.get("sessionId") == self.session
        ]

    def console_errors(self) -> list[str]:
        """Errors from scripts, the console and the browser's log (CSP, loads)."""
        out = [
            str(p["exceptionDetails"].get("text"))
            for p in self._events("Runtime.exceptionThrown")
        ]
        out += [
            " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            for p in self._events("Runtime.consoleAPICalled")
            if p["type"] in ("error", "assert")
        ]
        out += [
            p["entry"]["text"]
            for p in self._events("Log.entryAdded")
            if p["entry"]["level"] == "error"
        ]
        return out

    def requests(self) -> list[str]:
        """Every URL the page asked for (allowed or blocked)."""
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]

    def foreign_requests(self) -> list[str]:
        """Requests for anything but the page itself and inline ``data:``."""
        return [
            u for u in self.requests() if u != self.url and not u.startswith(INLINE)
        ]

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
