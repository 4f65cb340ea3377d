"""Offline generators and developer tools (run from the repository root; not installed)."""
