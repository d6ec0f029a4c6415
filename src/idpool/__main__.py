"""`python -m idpool` runs the command line."""

from idpool.cli import main

raise SystemExit(main())
