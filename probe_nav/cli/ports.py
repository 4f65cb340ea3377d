"""`probe-nav ports`: list serial ports, what their USB IDs suggest, and (opt-in) who answers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from probe_nav.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `ports` subcommand."""
    p = sub.add_parser("ports", help="list serial ports and the probes they may be")
    p.add_argument("urls", nargs="*", metavar="URL",
                   help="more ports or pyserial URLs to include (e.g. a simulator's pty)")
    p.add_argument("--probe", action="store_true",
                   help="ask each port who it is (sends harmless queries; a few seconds a port)")
    p.add_argument("--json", action="store_true", help="a JSON list on stdout")
    p.set_defaults(func=run)


def _row(device: str, port: Any | None) -> dict[str, Any]:
    known = port.known if port is not None else None
    return {
        "device": device,
        "vid_pid": port.vid_pid if port is not None else "",
        "serial_number": (port.serial_number if port is not None else None) or "",
        "description": port.description if port is not None else "",
        "recognised": known.name if known else "",
        "protocols": list(known.protocols) if known else [],
        "probe": None,
    }


def _probe(row: dict[str, Any]) -> None:
    from probe_nav.drivers.autodetect import identify_port
    from probe_nav.drivers.errors import DeviceNotFound

    try:
        found = identify_port(row["device"], hints=row["protocols"])
    except DeviceNotFound as exc:
        row["probe"] = {"protocol": None, "description": str(exc)}
        return
    row["probe"] = (
        {"protocol": None, "description": "no answer any driver recognises"}
        if found is None
        else {"protocol": found.protocol, "description": found.description,
              "baudrate": found.baudrate}
    )


def _print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["PORT", "VID:PID", "SERIAL", "DESCRIPTION", "RECOGNISED"]
    keys = ["device", "vid_pid", "serial_number", "description", "recognised"]
    if any(r["probe"] is not None for r in rows):
        headers.append("ANSWERED")
    table = [headers]
    for r in rows:
        cells = [r[k] or "-" for k in keys]
        if r["probe"] is not None:
            probe = r["probe"]
            cells.append(f"{probe['protocol']}: {probe['description']}" if probe["protocol"]
                         else probe["description"])
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


def run(args: argparse.Namespace) -> int:
    """List (and optionally probe) the ports."""
    from probe_nav.drivers.ports import list_serial_ports, port_for_url

    listed = list_serial_ports()
    rows = [_row(p.device, p) for p in listed]
    known_devices = {p.device for p in listed}
    for url in args.urls:
        if not url.strip():
            raise UserError("an empty URL was given")
        if url not in known_devices:
            rows.append(_row(url, port_for_url(url)))
    if args.probe:
        for row in rows:
            _probe(row)
    if args.json:
        print(json.dumps(rows, indent=None))
        return 0
    if not rows:
        print("no serial ports found (plug the probe in, or give a URL: probe-nav ports URL)")
        return 0
    _print_table(rows)
    sys.stdout.flush()
    return 0
