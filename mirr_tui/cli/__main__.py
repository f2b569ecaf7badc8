"""`python -m mirr_tui.cli`: the same as the `mirr` console script."""

from . import main

main()
