"""Pin what Qt's PDF writer stamps with the wall clock or a random UUID, so that one report gives
one file: its creation and modification dates (the Info dictionary and the XMP metadata) and its
document ids. Pure bytes in, bytes out (no Qt)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://probe-nav/pdf-document-id")

# What Qt's PDF writer stamps with the wall clock or a random UUID (no API sets them): each is
# rewritten in place with a value of the same length, so the file's byte offsets stay valid.
_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}Z\)")
_XMP_DATE = re.compile(rb'xmp:(CreateDate|ModifyDate|MetadataDate)="\d{4}-\d\d-\d\dT'
                       rb'\d\d:\d\d:\d\d\+00:00"')
_UUIDS = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_UUIDS = re.compile(rb"<((?:3[0-9]|6[1-6]|2d){36})>")


def pin_pdf(pdf: bytes, when: datetime) -> bytes:
    """The PDF with its creation/modification dates set to `when` and its document ids to a
    UUID of its own content: the same report gives the same bytes (a DICOM instance UID must
    name one content). ValueError if a rewrite would change the file's length."""
    stamp = when.astimezone(UTC)
    pdf_date = stamp.strftime("%Y%m%d%H%M%S").encode()
    xmp_date = stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00").encode()
    out = _PDF_DATE.sub(lambda m: b"/" + m[1] + b" (D:" + pdf_date + b"Z)", pdf)
    out = _XMP_DATE.sub(lambda m: b"xmp:" + m[1] + b'="' + xmp_date + b'"', out)
    # the ids last, from the content with every id blanked: stable across writes of one report
    blank = _HEX_UUIDS.sub(lambda m: b"<" + b"0" * 72 + b">", _UUIDS.sub(b"0" * 36, out))
    doc_id = str(uuid.uuid5(NAMESPACE, hashlib.sha256(blank).hexdigest())).encode()
    out = _HEX_UUIDS.sub(lambda m: b"<" + doc_id.hex().encode() + b">", out)
    out = _UUIDS.sub(doc_id, out)
    if len(out) != len(pdf):
        raise ValueError("pinning the PDF's dates and ids changed its length")
    return out
