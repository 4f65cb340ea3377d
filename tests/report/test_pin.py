"""Pinning a PDF's dates and document ids (probe_nav.report.pin): one report, one file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from probe_nav.report.pin import pin_pdf

WHEN = datetime(2026, 11, 20, 9, 30, 5, tzinfo=UTC)
U1 = b"024b9103-8811-4337-8dd4-35d9d79e08c0"
U2 = b"9c1f4b2a-1111-4a2b-8c3d-0123456789ab"


def fake_pdf(stamp: bytes, uid: bytes) -> bytes:
    return (b"%PDF-1.4\n/CreationDate (D:" + stamp + b"Z)\n/ModDate (D:" + stamp + b"Z)\n"
            b'<x xmp:CreateDate="2026-11-28T22:45:30+00:00" xmp:MetadataDate='
            b'"2026-11-28T22:45:31+00:00" xmpMM:DocumentID="uuid:' + uid + b'"/>\n'
            b"/ID [ <" + uid.hex().encode() + b"> <" + uid.hex().encode() + b"> ]\n%%EOF\n")


def test_two_writes_of_one_report_pin_to_the_same_bytes() -> None:
    a = pin_pdf(fake_pdf(b"20261128224530", U1), WHEN)
    b = pin_pdf(fake_pdf(b"20261128230101", U2), WHEN)
    assert a == b and len(a) == len(fake_pdf(b"20261128224530", U1))
    assert b"(D:20261120093005Z)" in a and b'"2026-11-20T09:30:05+00:00"' in a
    assert U1 not in a and U1.hex().encode() not in a


def test_another_report_gets_another_id() -> None:
    a = pin_pdf(fake_pdf(b"20261128224530", U1), WHEN)
    other = pin_pdf(fake_pdf(b"20261128224530", U1).replace(b"%%EOF", b"%%EOE"), WHEN)
    assert a.split(b"/ID")[1] != other.split(b"/ID")[1]


def test_a_length_change_is_refused(monkeypatch) -> None:
    import probe_nav.report.pin as pin

    monkeypatch.setattr(pin, "_PDF_DATE", __import__("re").compile(rb"%(PDF)"))
    with pytest.raises(ValueError, match="length"):
        pin_pdf(b"%PDF-1.4", WHEN)
