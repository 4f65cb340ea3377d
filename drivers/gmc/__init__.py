"""GQ GMC Geiger counters (GQ-RFC1201 and GQ-RFC1801): codec and device classes."""
