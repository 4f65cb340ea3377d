"""Radionavigation: tracking the probe (tip calibration, poses) and, later, localising hot
tissue from tracked counts. Pure numpy maths; no I/O, no Qt, no threads."""
