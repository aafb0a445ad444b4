"""`python -m microgrid` runs the command-line interface."""

from microgrid.cli import main

raise SystemExit(main())
