"""Shared pytest settings: unit tests run at smoke scale on the CPU, whatever the machine."""

import os

import matplotlib

os.environ.setdefault("D2L_SCALE", "smoke")
# Only this process draws off-screen. An MPLBACKEND variable would leak into the notebook
# kernels nbval starts, and their figures would then vanish from the outputs.
matplotlib.use("Agg")
