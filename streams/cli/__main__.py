"""`python -m streams.cli`: the `surge-monitor` command without the installed script."""

import sys

from streams.cli.main import main

sys.exit(main())
