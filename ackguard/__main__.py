"""``python -m ackguard``: the command line."""

from ackguard.harness.cli import main

raise SystemExit(main())
