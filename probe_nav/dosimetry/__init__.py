"""Retention dosimetry after radionuclide therapy: fits of whole-body retention series."""
