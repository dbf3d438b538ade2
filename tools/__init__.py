"""The course's own tooling: running notebooks, tests' configurations, slides, the lab server.

A package at the repository root, imported one way, `from tools import nbrun`: commands run as
`python -m tools.<name>` from the root (as the Makefile does), pytest puts the root on its path,
and notebook kernels that need a tool get the root through PYTHONPATH. Students never import it.
"""
