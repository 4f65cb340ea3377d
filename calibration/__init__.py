"""Physics reference data and measurement maths: nuclides, decay, dead time, calibration records."""
