"""The `smbos` command line.

Exit codes: 0 ok, 1 a check failed, 2 invalid input, 3 the Docker engine is unreachable.
Data goes to stdout (a table, or JSON with `--json`); problems go to stderr, one line each.

One module per concern, each command a thin shell over the package's own modules; each command
imports what it uses when it runs, so `--version` and `--help` pay for none of it.
"""

from smbos.cli import agent, fleet, folders, observe, settings, ui  # noqa: F401 - register commands
from smbos.cli.base import cli, main

__all__ = ["cli", "main"]
