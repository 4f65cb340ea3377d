"""Open Gamma Detector (OpenGammaProject): SiPM scintillation spectrometer on a Pi Pico."""
