"""The one error the calibration and QC analyses raise when data cannot give an answer."""

from __future__ import annotations


class AnalysisError(ValueError):
    """A fit or analysis that cannot give a trustworthy number (no peak, too few counts,
    degenerate data); the message says what is wrong and, where it can, what to do."""
