"""probe-nav: intraoperative radionavigation with handheld gamma probes."""

__version__ = "0.1.0"
