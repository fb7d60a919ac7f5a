"""Helpers of the real-browser test: serve the app with ``streamlit run`` on a free port, drive
headless Chromium, wait for a page to finish drawing, take a full-page screenshot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from dashboards.cli import app_environment, streamlit_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ERROR_CSS = '[data-testid="stException"], [data-testid="stAlertContentError"], [role="dialog"]'


def missing_browser() -> str | None:
    """None when Chromium and its driver are installed, else what is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists() and not shutil.which(p.name)]
    return f"missing {', '.join(missing)}" if missing else None


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(project_dir: Path, port: int, var: list[str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """``streamlit run`` of the dashboards in a subprocess; returns once /_stcore/health answers."""
    env = app_environment(project_dir, None, var or [])
    env["MEDALLION_DASHBOARD_TTL"] = "600"
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(streamlit_command(port, headless=True) + ["--server.address", "127.0.0.1"],
                            env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("streamlit did not start within 60 s")


def make_driver(width: int = 1500, height: int = 1000):
    """Headless Chromium through Selenium (flags as the brief requires)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    service = Service(str(CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")))
    return webdriver.Chrome(options=options, service=service)


_STATE_JS = """
const running = document.querySelector('[data-testid="stStatusWidget"]') !== null;
const skeleton = document.querySelectorAll('[data-testid="stSkeleton"]').length;
const embeds = [...document.querySelectorAll('.vega-embed')];
const drawn = embeds.filter(e => e.querySelector('canvas, svg')).length;
const h1 = document.querySelectorAll('h1').length;
return [running, skeleton, embeds.length, drawn, h1];
"""


def wait_drawn(driver, timeout: float = 60) -> dict:
    """Wait until the script finished and every chart has a canvas/svg (stable for 1.5 s)."""
    deadline, stable, last = time.monotonic() + timeout, 0, None
    while time.monotonic() < deadline:
        state = driver.execute_script(_STATE_JS)
        running, skeleton, charts, drawn, h1 = state
        done = not running and not skeleton and h1 > 0 and charts == drawn
        stable = stable + 1 if done and state == last else 0
        if stable >= 3:
            break
        last = state
        time.sleep(0.5)
    time.sleep(0.8)  # vega's transitions
    return {"charts": last[2] if last else 0, "drawn": last[3] if last else 0}


def full_page_screenshot(driver, path: Path, width: int = 1500) -> None:
    """Resize the window to the page's scroll height (Streamlit scrolls inside stMain) and shoot."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(m.scrollHeight, document.body.scrollHeight);")
    driver.set_window_size(width, min(int(height) + 120, 9000))
    time.sleep(1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def errors_on_page(driver) -> list[str]:
    """Text of every exception, error alert or dialog (e.g. "Page not found") on the page."""
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ERROR_CSS)]


def stop(proc: subprocess.Popen) -> None:
    """Stop the server we started (by its own pid)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
