"""Navigation core: rate estimation, background, timed counts, over-range, detection, pipeline.

Pure numpy; no Qt, no threads, no I/O.
"""
