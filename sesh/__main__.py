"""``python -m sesh``: the command line."""

from sesh.cli import console

console()
