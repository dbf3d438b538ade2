"""`make lab` on a shared server: the token is on no command line, and over SSH only its owner
can open the server's socket. Each test starts the real
JupyterLab through `python -m tools.serve`."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tools import layout

SERVE = [sys.executable, "-m", "tools.serve"]  # run from the repository root
START_TIMEOUT_S = 90
SSH_LINE = re.compile(r"ssh -L (\d+):(\S+) (\S+)@(\S+)")
TOKEN = re.compile(r"/lab\?token=([0-9a-f]+)")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, as the ssh tunnel delivers it to the server."""

    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.socket_path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def runtime_dir():
    """A private XDG_RUNTIME_DIR with a short path, as /run/user/UID is (socket paths are short)."""
    path = Path(tempfile.mkdtemp(prefix="d2l-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def isolated_env(tmp_path: Path, runtime: Path, **extra: str) -> dict[str, str]:
    """Throw-away Jupyter configuration and the given private runtime directory."""
    env = {k: v for k, v in os.environ.items() if k not in
           ("SSH_CONNECTION", "JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE", "JUPYTER_RUNTIME_DIR")}
    env.update(XDG_RUNTIME_DIR=str(runtime), JUPYTER_CONFIG_DIR=str(tmp_path / "jconf"),
               PYTHONUNBUFFERED="1", **extra)
    return env


def start(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Run the server until it prints its ssh line; returns the process and that text."""
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([*SERVE, *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=layout.REPO,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = Path(log.name).read_text()
        if TOKEN.search(text) or proc.poll() is not None:
            return proc, text
        time.sleep(0.2)
    return proc, Path(log.name).read_text()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(request, proc: subprocess.Popen, tmp_path: Path) -> http.client.HTTPResponse:
    """Repeat a request until the server answers it, failing with its log if it dies."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited {proc.returncode}:\n{(tmp_path / 'serve.log').read_text()}")
        try:
            return request()
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"no answer in {START_TIMEOUT_S} s:\n{(tmp_path / 'serve.log').read_text()}")


def command_lines_with(secret: str) -> list[str]:
    """Every process command line on this machine that contains the secret."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if secret in text:
            found.append(f"{cmdline.parent.name}: {text}")
    return found


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, str]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode(errors="replace")


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
def test_tcp_server_keeps_its_token_off_every_command_line(tmp_path, runtime_dir):
    port = free_port()
    proc, text = start(tmp_path, ["--port", str(port), "--listen", "tcp"],
                       isolated_env(tmp_path, runtime_dir))
    try:
        token = TOKEN.search(text).group(1)
        assert SSH_LINE.search(text).groups()[:2] == (str(port), f"127.0.0.1:{port}")
        status, body = wait_until(
            lambda: get(http.client.HTTPConnection("127.0.0.1", port, timeout=10),
                        f"/lab?token={token}"), proc, tmp_path)
        assert status == 200 and "JupyterLab" in body
        status, _ = get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "/api/status")
        assert status == 403, "without the token the server refuses"
        runtime = runtime_dir / f"d2l-lab-{os.getuid()}" / "runtime"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert kernel_transport(conn, token, runtime) == "ipc"
        assert command_lines_with(token) == []
    finally:
        stop(proc)


@pytest.mark.skipif(sys.platform != "linux", reason="Unix sockets and /proc: Linux")
def test_over_ssh_it_serves_an_owner_only_socket(tmp_path, runtime_dir):
    env = isolated_env(tmp_path, runtime_dir, SSH_CONNECTION="192.0.2.10 52100 192.0.2.20 22")
    proc, text = start(tmp_path, ["--port", "8890"], env)
    try:
        token = TOKEN.search(text).group(1)
        laptop_port, target, _, _ = SSH_LINE.search(text).groups()
        sock = Path(target)
        assert laptop_port == "8890" and sock.name == "lab.sock"
        assert sock.parent == runtime_dir / f"d2l-lab-{os.getuid()}"
        status, body = wait_until(lambda: get(UnixHTTPConnection(target), f"/lab?token={token}"),
                                  proc, tmp_path)
        assert status == 200 and "JupyterLab" in body
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        assert get(UnixHTTPConnection(target), "/api/status")[0] == 403
        assert kernel_transport(UnixHTTPConnection(target), token, sock.parent / "runtime") == "ipc"
        assert command_lines_with(token) == []
        assert command_lines_with(f"--sock={target}"), "the server listens on that socket"
        if os.geteuid() == 0:  # only root can act as another user here
            assert other_user_cannot_connect(target)
    finally:
        stop(proc)


def kernel_transport(conn: http.client.HTTPConnection, token: str, runtime: Path) -> str:
    """Start a kernel through the server; return how it talks to the server (its connection file).

    Over TCP any local user could subscribe to a kernel's output on 127.0.0.1; over IPC its
    sockets lie in Jupyter's runtime directory, which only its owner can enter.
    """
    conn.request("POST", "/api/kernels", body=json.dumps({"name": "python3"}),
                 headers={"Authorization": f"token {token}"})
    response = conn.getresponse()
    reply = response.read()
    assert response.status == 201, reply
    kernel_id = json.loads(reply)["id"]
    assert runtime.stat().st_mode & 0o777 == 0o700  # Jupyter may add the sticky bit
    return json.loads((runtime / f"kernel-{kernel_id}.json").read_text())["transport"]


def other_user_cannot_connect(path: str) -> bool:
    """Try to open the socket as the user `nobody`: the kernel must refuse it."""
    probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n")
    result = subprocess.run(["/usr/bin/env", "python3", "-c", probe, path], user=65534,
                            group=65534, extra_groups=[], cwd="/", capture_output=True)
    return result.returncode == 3


def test_a_second_server_on_the_same_socket_is_refused(tmp_path, runtime_dir):
    env = isolated_env(tmp_path, runtime_dir)
    folder = runtime_dir / f"d2l-lab-{os.getuid()}"
    folder.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(folder / "lab.sock"))
        listener.listen()
        result = subprocess.run([*SERVE, "--listen", "socket"], env=env, cwd=layout.REPO,
                                capture_output=True, text=True)
    assert result.returncode == 1
    assert "already listens on" in result.stderr and "token" not in result.stdout


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to make a folder that belongs to another user")
def test_a_private_folder_planted_by_another_user_is_refused(tmp_path, runtime_dir):
    planted = runtime_dir / f"d2l-lab-{os.getuid()}"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    result = subprocess.run([*SERVE, "--listen", "tcp"], env=isolated_env(tmp_path, runtime_dir),
                            cwd=layout.REPO, capture_output=True, text=True)
    assert result.returncode == 1 and "not a directory of yours" in result.stderr
    assert not (planted / "token").exists()
