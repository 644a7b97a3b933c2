"""The ``linewatch`` command line: one module per command group, shared options in one place.

Shell, the outermost layer with the web service: imports services, formats, the store, render,
the web app (``linewatch serve``) and the core; nothing imports it. Each command parses its
options, calls a service and formats the result; errors become a message and an exit code
(docs/cli.md).

- :mod:`~linewatch.cli.main`: the app, agreement, ingest, export, quarantine, verify, report, fuse, sim, demo;
- :mod:`~linewatch.cli.audit`: keys and the audit log; :mod:`~linewatch.cli.web`: serve and users;
- :mod:`~linewatch.cli.coverage`, :mod:`~linewatch.cli.plan`, :mod:`~linewatch.cli.reprocess`,
  :mod:`~linewatch.cli.stream`: one command group each;
- :mod:`~linewatch.cli.options`: ``--db``, ``--agreement``, ``--sign-with`` and time parsing.
"""

from __future__ import annotations

from linewatch.cli.main import app

__all__ = ["app"]
