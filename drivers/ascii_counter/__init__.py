"""Plain ASCII counters: one count per line, optionally with the device's timestamp."""
