"""Shared pytest settings: unit tests run at smoke scale on the CPU, whatever the machine."""

import os

os.environ.setdefault("D2L_SCALE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
