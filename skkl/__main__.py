"""``python -m skkl``: the same as the ``skkl`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
