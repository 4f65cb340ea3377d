"""Tests of retention dosimetry: series, fits, release time, the `dosimetry fit` command."""
