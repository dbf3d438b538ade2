"""Serve the course in JupyterLab on 127.0.0.1 with a token, and print how to reach it over SSH."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--token", default=os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24))
    args = parser.parse_args()

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            print(f"port {args.port} is taken on 127.0.0.1; choose another: make lab PORT=8890",
                  file=sys.stderr)
            return 1
    host = socket.getfqdn()
    user = getpass.getuser()
    print(f"""
Course server on http://127.0.0.1:{args.port}/lab?token={args.token}

From a laptop, open a tunnel first (keep it running), then open the address above:
    ssh -L {args.port}:127.0.0.1:{args.port} {user}@{host}
Slides: open a notebook, then Alt+R (or the command palette: "Open as Reveal Slideshow").
Stop the server with Ctrl+C.
""", flush=True)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={args.port}", "--port-retries=0", f"--IdentityProvider.token={args.token}",
           f"--ServerApp.root_dir={REPO / 'notebooks'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root without it (containers, cloud VMs)
    os.execv(sys.executable, cmd)


if __name__ == "__main__":
    sys.exit(main())
