"""Entry point: ``python -m ackguard.fakes.consultations --help``."""

from ackguard.fakes.consultations.cli import main

raise SystemExit(main())
