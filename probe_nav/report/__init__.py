"""Shared report output: PDF documents with a running header, page numbers, tables that never
truncate and charts (Qt's text layout onto QPdfWriter); numbers and units in one style."""

from probe_nav.report.pdf import PdfReport

__all__ = ["PdfReport"]
