"""`python -m mirr_tui`: the same as the `mirr` console script."""

from .cli import main

main()
