"""Shared report output: PDF documents with text, tables and plots (Qt's PDF writer)."""

from probe_nav.report.pdf import PdfReport

__all__ = ["PdfReport"]
