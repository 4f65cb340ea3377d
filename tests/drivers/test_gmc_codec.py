"""GQ GMC codec against bytes recorded from real counters.

Fixtures: pygmc's recordings of a GMC-320 (firmware Re 4.26), a GMC-500+ (Re 2.22) and a GMC-300S
(Re 1.14), github.com/Wikilicious/pygmc tests/data/data_gmc320.py, data_gmc500_plus.py and
data_gmc300s.py, with the values pygmc decodes them to.
"""

from __future__ import annotations

import pytest

from probe_nav.drivers.gmc.codec import (
    GmcError,
    HeartbeatDecoder,
    Rfc1201,
    Rfc1801,
    codec_for_model,
    command,
    decode_serial,
    decode_voltage_v,
    encode_voltage,
    parse_version,
)

GMC320 = {"GETVER": b"GMC-320Re 4.26", "GETSERIAL": b"\xf4\x88\x00g\x1cB\xc2",
          "GETCPM": b"\x01\xb6", "GETVOLT": b"*", "HEARTBEAT1": b"\x01\xb6"}
GMC500P = {"GETVER": b"GMC-500+Re 2.22", "GETSERIAL": b"00!W!W\xf6",
           "GETCPM": b"\x00\x00\x04\xba", "GETCPS": b"\x00\x00\x00\x13", "GETVOLT": b"4.0v\x00",
           "HEARTBEAT1": b"\x00\x00\x00\x13"}
GMC300S = {"GETVER": b"GMC-300SRe 1.14", "GETSERIAL": b"\xf7\xf4\xc5x\x13\x9d\x08",
           "GETCPM": b"\x00\x17", "GETVOLT": b"*", "HEARTBEAT1": b"\x00\x17"}


@pytest.mark.parametrize(
    ("reply", "model", "firmware", "revision"),
    [
        (GMC320["GETVER"], "GMC-320", "4.26", Rfc1201),
        (GMC500P["GETVER"], "GMC-500+", "2.22", Rfc1801),
        (GMC300S["GETVER"], "GMC-300S", "1.14", Rfc1201),  # 15 bytes although RFC1201 says 14
        (b"GMC-600+Re 2.52", "GMC-600+", "2.52", Rfc1801),
        (b"GMC-SE Re 1.05", "GMC-SE", "1.05", Rfc1201),
        (b"GMC-800Re1.08", "GMC-800", "1.08", Rfc1801),
        (b"GMC-300Re 2.10", "GMC-300", "2.10", Rfc1201),  # the example in GQ-RFC1201
    ],
)
def test_version_strings_of_real_counters(reply, model, firmware, revision) -> None:
    version = parse_version(reply)
    assert (version.model, version.firmware) == (model, firmware)
    assert codec_for_model(version.model) is revision


def test_version_survives_a_late_heartbeat_word_and_trailing_nuls() -> None:
    version = parse_version(b"\x00\x17" + GMC320["GETVER"] + b"\x00")
    assert version.raw == "GMC-320Re 4.26"


@pytest.mark.parametrize("reply", [b"", b"CPS, 12, CPM", b"\xff\xfe\xfd\xfc\xfb\xfa\xf9", b"GMC"])
def test_not_a_version_string(reply) -> None:
    with pytest.raises(GmcError):
        parse_version(reply)


def test_unknown_model_has_no_revision() -> None:
    assert codec_for_model("GMC 404") is None


def test_recorded_values_decode_as_pygmc_decodes_them() -> None:
    assert decode_serial(GMC320["GETSERIAL"]) == "f48800671c42c2"
    assert decode_serial(GMC500P["GETSERIAL"]) == "303021572157f6"
    assert Rfc1201.decode_cpm(GMC320["GETCPM"]) == 438
    assert Rfc1201.decode_cpm(GMC300S["GETCPM"]) == 23
    assert Rfc1801.decode_cpm(GMC500P["GETCPM"]) == 1210
    assert Rfc1801.decode_cpm(GMC500P["GETCPS"]) == 19
    assert decode_voltage_v(GMC320["GETVOLT"]) == pytest.approx(4.2)
    assert decode_voltage_v(GMC500P["GETVOLT"]) == pytest.approx(4.0)
    assert decode_voltage_v(b"3.97v") == pytest.approx(3.97)  # GQ-RFC1801's example
    assert Rfc1201.decode_cps(GMC320["HEARTBEAT1"]) == 438
    assert Rfc1801.decode_cps(GMC500P["HEARTBEAT1"]) == 19


def test_rfc1201_cps_masks_the_reserved_top_bits() -> None:
    assert Rfc1201.decode_cps(b"\x40\x1c") == 28
    assert Rfc1201.decode_cps(b"\xc0\x1c") == 28
    assert Rfc1201.decode_cps(b"\xff\xff") == 0x3FFF == Rfc1201.cps_max()
    assert Rfc1201.encode_cps(28, reserved_bits=0b01) == b"\x40\x1c"
    assert Rfc1201.encode_cps(100_000) == b"\x3f\xff"  # saturates


def test_sizes_are_checked() -> None:
    with pytest.raises(GmcError):
        Rfc1201.decode_cps(b"\x00\x00\x00\x13")
    with pytest.raises(GmcError):
        Rfc1801.decode_cpm(b"\x01\xb6")
    with pytest.raises(GmcError):
        decode_serial(b"\x01\x02")
    with pytest.raises(GmcError):
        decode_voltage_v(b"volts")


def test_voltage_encoding_round_trips() -> None:
    assert encode_voltage(4.2, ascii_reply=False) == b"*"  # as recorded from the GMC-320
    assert encode_voltage(4.0, ascii_reply=True) == b"4.0v\x00"  # as recorded from the GMC-500+
    assert decode_voltage_v(encode_voltage(3.7, ascii_reply=True)) == pytest.approx(3.7)


@pytest.mark.parametrize("name", ["WCFG", "ECFG", "SETDATETIME", "FACTORYRESET", "POWEROFF",
                                  "REBOOT", "KEY0", "SETSSID", "CFGUPDATE", "SPEAKER1"])
def test_only_read_only_commands_can_be_built(name) -> None:
    with pytest.raises(ValueError, match="read-only"):
        command(name)
    assert command("GETVER") == b"<GETVER>>"


def test_heartbeat_decoder_words_and_short_reads() -> None:
    decoder = HeartbeatDecoder(word_bytes=2, gap_s=0.1)
    assert decoder.feed(b"\x00\x10\x00", 0.0) == [b"\x00\x10"]
    assert decoder.feed(b"\x11", 0.05) == [b"\x00\x11"]  # the rest of a word within the gap
    assert decoder.feed(b"\x00", 1.0) == []
    assert decoder.expire(1.05) == 0
    assert decoder.expire(1.2) == 1  # the device went quiet mid-word: dropped, framing recovers
    assert decoder.feed(b"\x00\x12", 2.0) == [b"\x00\x12"]
    assert decoder.dropped_bytes == 1
    decoder.reset(word_bytes=4)
    assert decoder.feed(b"\x00\x00\x00\x13\x00", 3.0) == [b"\x00\x00\x00\x13"]
