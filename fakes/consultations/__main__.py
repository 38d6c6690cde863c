"""Entry point: ``python -m fakes.consultations --help``."""

from fakes.consultations.cli import main

raise SystemExit(main())
