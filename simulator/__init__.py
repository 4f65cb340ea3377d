"""A virtual gamma probe: phantom physics, scan paths, scenarios and device emulators."""
