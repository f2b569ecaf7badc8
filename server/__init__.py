"""OpenEnv's conventional `server` package: a shim over mirr_tui.server (see server/app.py)."""
