"""Calibration and QC records (store), the procedures that produce them, and their reports."""
