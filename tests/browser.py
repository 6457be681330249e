"""Helpers for browser tests: start the real app in a subprocess and drive Debian's Chromium.

Never runs `playwright install`: Chromium comes from Debian (/usr/bin/chromium).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("KUDA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def require_chromium() -> str:
    """Path of Chromium; fail under CI=true when it is missing, skip elsewhere."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`python app.py` on a free port; stop() sends SIGTERM and waits."""

    def __init__(self, extra_args: list[str] | None = None, timeout: float = 180):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = ROOT / "artifacts" / f"app-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port), *(extra_args or [])],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"app did not start within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_FLAGS)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_finished(page, selector: str, text: str, timeout: float = 900_000) -> None:
    """`text` in the component once its event has ended (gradio's progress overlay, which also holds text, gone)."""
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && !el.querySelector('.wrap:not(.hide)') && el.innerText.includes(text); }",
        arg=[selector, text], timeout=timeout,
    )


def start_job(page, button: str, status: str, started: str, timeout: float = 600_000) -> None:
    """Click a job's button and wait until it has started (`started`, a regex, in a new `status` text);
    when the app asks first (a long estimate: "Click again"), click a second time."""
    before = page.locator(status).inner_text()
    page.locator(button).click()
    page.wait_for_function(
        "([sel, before, started]) => { const t = document.querySelector(sel)?.innerText || '';"
        " return t !== before && (new RegExp(started).test(t) || t.includes('Click again')); }",
        arg=[status, before, started], timeout=timeout,
    )
    if "Click again" in page.locator(status).inner_text():
        page.locator(button).click()
