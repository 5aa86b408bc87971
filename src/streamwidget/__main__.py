"""``python -m streamwidget ...``: the command line (see :mod:`streamwidget.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
