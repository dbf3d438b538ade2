"""Live slides: JupyterLab with jupyterlab-rise serves a notebook as a reveal.js slideshow.

Starts `jupyter lab` on a free loopback port with a token, in throw-away config, runtime, settings
and workspace folders, on a copy of a notebook (opening a notebook rewrites it), opens
/rise/<notebook>?token=..., checks that a slide is shown with the course's rise.css, steps to the
next slide, takes screenshots (build/e2e-artifacts/live/) and always stops the server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_support import ARTIFACTS, clean_dir, deck_notebooks

from tools.layout import LECTURES

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 120  # a contended 2-core CI machine starts JupyterLab in 5-30 s
SLIDE_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer {url} in {START_TIMEOUT_S} s:\n"
                f"{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server (it shuts its kernels down), then anything left in its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group is this test's own (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def lab_server(tmp_path, browser):  # browser first: no server is started when it skips
    """JupyterLab on a free loopback port over a copy of a notebook.

    Yields (base_url, token, notebook name).
    """
    nbs = deck_notebooks()
    if not nbs:
        pytest.skip("no notebooks yet")
    nb = LECTURES / "03-environment.ipynb"
    nb = nb if nb.exists() else nbs[0]
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(nb, root / nb.name)
    shutil.copy(LECTURES / "rise.css", root / "rise.css")

    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]:
        env[var] = str(tmp_path / sub)
        (tmp_path / sub).mkdir()
    labconfig = tmp_path / "config" / "labconfig"
    labconfig.mkdir()
    # No news pop-up (the announcements plugin would also ask the network).
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))

    port, token = free_port(), os.urandom(16).hex()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--port-retries=0", f"--ServerApp.root_dir={root}"]
    env["JUPYTER_TOKEN"] = token  # as make lab does: never on a command line
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(proc, f"{base}/api/status?token={token}", log)
        yield base, token, nb.name
    finally:
        stop(proc)
        shutil.copy(log, clean_dir(ARTIFACTS / "live-log") / "jupyter.log")


def test_live_rise_slideshow(lab_server, guarded_page):
    base, token, name = lab_server
    page, guard = guarded_page
    shots = clean_dir(ARTIFACTS / "live")

    page.goto(f"{base}/rise/{name}?token={token}", wait_until="domcontentloaded",
              timeout=SLIDE_TIMEOUT_MS)
    present = page.locator(".reveal .slides section.present").first
    present.wait_for(state="visible", timeout=SLIDE_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # let the first slide's layout settle for the screenshot
    page.screenshot(path=str(shots / "slide-1.png"))
    assert present.inner_text().strip(), "the first slide is empty"

    # The course's rise.css was loaded next to the notebook.
    assert page.evaluate("""() => [...document.styleSheets].some(
        s => s.href && s.href.endsWith('/rise.css') && s.cssRules.length > 0)""")

    # Step to the next slide as a presenter does, and check that another slide is shown.
    first = present.inner_text()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("""(first) => {
        const s = document.querySelector('.reveal .slides section.present');
        return s && s.innerText !== first; }""", arg=first, timeout=SLIDE_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(shots / "slide-2.png"))

    assert not guard.blocked, f"the live slideshow asked the network for: {guard.blocked}"
