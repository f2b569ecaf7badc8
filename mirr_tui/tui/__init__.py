"""The MIRR terminal app (Textual). Build it with `make_app` from `mirr_tui.tui.app`."""
