"""`python -m deeptui.cli`: the same command line as `deeptui`."""

import sys

from deeptui.cli.main import main

sys.exit(main())
