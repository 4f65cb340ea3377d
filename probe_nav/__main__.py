"""`python -m probe_nav` runs the same command line as the `probe-nav` script."""

from probe_nav.cli.main import main

raise SystemExit(main())
