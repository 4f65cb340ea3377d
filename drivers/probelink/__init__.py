"""ProbeLink: probe-nav's open, versioned wire protocol for probes (docs/protocol-probelink.md)."""
