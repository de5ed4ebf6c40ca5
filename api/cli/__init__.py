"""The ``visitor-stats`` command, one module per family of commands: running the service
(:mod:`api.cli.run`), the sites (:mod:`api.cli.sites`), the numbers (:mod:`api.cli.figures`).
The command line is the composition root: the only part of ``api`` that imports
``aggregator``."""

from __future__ import annotations

from api.cli import figures, imports, run, sites
from api.cli.common import app

__all__ = ["app", "figures", "imports", "main", "run", "sites"]


def main() -> None:
    app()
