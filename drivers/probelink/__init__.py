"""ProbeLink: probe-nav's open, versioned wire protocol for counting probes (docs/protocol-probelink.md)."""
