"""The scenarios shipped with probe-nav (TOML data files; docs/scenarios.md)."""
