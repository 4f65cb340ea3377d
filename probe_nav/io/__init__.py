"""Reading and writing recorded data (frame CSV files)."""
