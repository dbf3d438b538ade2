"""Serve the course in JupyterLab (`make lab`) so that no other user of the machine can reach it.

On a shared server every local user can read every command line (`ps`) and connect to 127.0.0.1.
So the token never goes on a command line: it is written to a file only its owner can read and
handed over as JUPYTER_TOKEN_FILE. Over SSH the server listens on a Unix socket with mode 0600 in
a private directory instead of a TCP port, and the student forwards a laptop port to that socket
(`ssh -L 8888:/path/lab.sock user@host`, OpenSSH 6.7+). Locally it listens on loopback TCP.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import socket
import stat
import sys
import tempfile
from pathlib import Path

from tools import layout

SOCKET_NAME = "lab.sock"


class ServeError(RuntimeError):
    """A reason not to start the server, worded for the student."""


def private_dir() -> Path:
    """This user's own directory for the socket and token: mode 0700, owned by us, or an error."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    path = base / f"d2l-lab-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ServeError(f"{path} exists but is not a directory of yours; remove it or set "
                         "XDG_RUNTIME_DIR to a private directory")
    path.chmod(0o700)  # a directory left from an older run may have other bits
    return path


def write_token(folder: Path) -> tuple[str, Path]:
    """A new token (or $JUPYTER_TOKEN), written without a newline to an owner-only file."""
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    path = folder / "token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token)
    path.chmod(0o600)
    return token, path


def in_use(address: str | tuple[str, int]) -> bool:
    """Whether a server already answers on this Unix socket path or (host, port)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as probe:
        return probe.connect_ex(address) == 0


def over_ssh(listen: str) -> bool:
    """Whether to serve on a Unix socket: asked for, or the student is logged in over SSH."""
    return listen == "socket" or (listen == "auto" and bool(os.environ.get("SSH_CONNECTION")))


def kernel_runtime_dir(folder: Path) -> Path | None:
    """Where kernels' Unix sockets go (inside our private folder), or None if the path is too long.

    Over TCP any local user could subscribe to a kernel's output on 127.0.0.1, so kernels talk
    to the server over IPC sockets, named <dir>/kernel-<uuid>-ipc-<n>; a socket path has at
    most 107 bytes.
    """
    runtime = folder / "runtime"
    if len(os.fsencode(runtime / f"kernel-{'0' * 36}-ipc-9")) > 107:
        return None
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    return runtime


def lab_command(port: int, sock: Path | None, kernel_ipc: bool) -> list[str]:
    """The `jupyter lab` command line: no token in it, a socket or loopback TCP."""
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
           f"--ServerApp.root_dir={layout.LECTURES}"]
    if sock is None:
        cmd += ["--ip=127.0.0.1", f"--port={port}", "--port-retries=0"]
    else:
        cmd += [f"--sock={sock}", "--sock-mode=0600"]
    if kernel_ipc:
        cmd.append("--KernelManager.transport=ipc")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root without it (containers, cloud VMs)
    return cmd


def instructions(port: int, token: str, sock: Path | None) -> str:
    """What the student reads: the address with its token and the tunnel to open first."""
    target = f"127.0.0.1:{port}" if sock is None else str(sock)
    where = ("on 127.0.0.1" if sock is None
             else f"on the Unix socket {sock} (only you can open it)")
    return f"""
Course server {where}. From a laptop, open a tunnel first (keep it running):
    ssh -L {port}:{target} {getpass.getuser()}@{socket.getfqdn()}
then open http://127.0.0.1:{port}/lab?token={token}
Slides: open a notebook, then Alt+R (or the command palette: "Open as Reveal Slideshow").
Stop the server with Ctrl+C.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888,
                        help="the TCP port here, or the laptop's port in the ssh line")
    parser.add_argument("--listen", choices=("auto", "tcp", "socket"), default="auto",
                        help="auto: a Unix socket when logged in over SSH, else loopback TCP")
    args = parser.parse_args()
    try:
        folder = private_dir()
        sock = folder / SOCKET_NAME if over_ssh(args.listen) else None
        if sock is None and in_use(("127.0.0.1", args.port)):
            raise ServeError(f"port {args.port} is taken on 127.0.0.1; choose another: "
                             "make lab PORT=8890")
        if sock is not None and sock.exists():
            if in_use(str(sock)):
                raise ServeError(f"a course server already listens on {sock}; stop it first")
            sock.unlink()  # left by a server that was killed
        token, token_file = write_token(folder)
        runtime = kernel_runtime_dir(folder)
    except (ServeError, OSError) as err:
        print(f"make lab: {err}", file=sys.stderr)
        return 1
    if runtime is None:
        print(f"make lab: {folder} is too long a path for kernel sockets; kernels use loopback "
              "TCP (set XDG_RUNTIME_DIR to a shorter private directory)", file=sys.stderr)
    print(instructions(args.port, token, sock), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    env["JUPYTER_TOKEN_FILE"] = str(token_file)
    if runtime is not None:
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)  # kernel sockets and server files, owner-only
    os.execve(sys.executable, lab_command(args.port, sock, runtime is not None), env)


if __name__ == "__main__":
    sys.exit(main())
