"""GB/T 28181 device IDs: every segment, valid and invalid."""
from __future__ import annotations

import pytest

from tests.settings import DISTRICT

from camera_registry.gb28181 import (CAMERA_TYPES, INDUSTRIES, INDUSTRY_NAMES, InvalidDeviceId, DeviceId, is_camera_type,
                                     parse_device_id)


def test_segments_of_a_valid_id():
    d = parse_device_id("51030400001320000001")
    assert d == DeviceId("51030400001320000001", "51030400", "00", "132", "0", "000001")
    assert (d.province, d.city, d.county, d.unit) == ("51", "5103", "510304", "00")
    assert d.is_camera and d.type_name.startswith("IPC")
    assert str(d) == "51030400001320000001"


@pytest.mark.parametrize("industry", sorted(INDUSTRY_NAMES))
def test_every_industry_with_every_listed_type_and_network_is_accepted(industry):
    """Every industry code (named, and the reserved 12–39 and 56–99), each with every listed type and network:
    one test per industry (the 9,900 combinations as separate tests cost more to collect than to check)."""
    for type_code in ("111", "118", "121", "131", "132", "134", "150", "200", "215", "216", "299"):
        for network in "012345678":
            code = f"51030401{industry}{type_code}{network}123456"
            d = parse_device_id(code, ("510304",))
            assert (d.industry, d.type, d.network, d.serial) == (industry, type_code, network, "123456")
            assert is_camera_type(code) == (type_code in {"121", "131", "132"})


def test_named_industries_and_reserved_ranges():
    assert INDUSTRY_NAMES["13"][1].startswith("Government department (reserved code") and "13" not in INDUSTRIES
    assert INDUSTRY_NAMES["42"] == ("制造企业接入", "Manufacturing")
    assert set(INDUSTRY_NAMES) == {f"{n:02d}" for n in range(100)}


def test_blanks_around_are_ignored():
    assert parse_device_id("  51030400001310000002 ").code == "51030400001310000002"


@pytest.mark.parametrize("code, segment, words", [
    ("5103040000132000001", "length", "must have 20 digits, has 19"),
    ("510304000013200000011", "length", "has 21"),
    ("", "length", "has 0"),
    ("5103040A001320000001", "centre code", "character 8 ('A') is not a digit"),
    ("51030400x01320000001", "industry", "character 9"),
    ("51030400001X20000001", "type", "character 12 ('X')"),
    ("5103040000132-000001", "network", "character 14"),
    ("510304000013200000O1", "serial", "character 19"),
    ("51030200001320000001", "centre code", "51030200 is not under the district's centre 510304"),
    ("51030500001320000001", "centre code", "not under"),
    ("51000000001320000001", "centre code", "not under"),
    ("51030400001000000001", "type", "unknown device type code 100"),
    ("51030400003000000001", "type", "unknown device type code 300"),
    ("51030400001329000001", "network", "unknown network code 9"),
])
def test_invalid_ids_name_the_segment_and_why(code, segment, words):
    with pytest.raises(InvalidDeviceId) as info:
        parse_device_id(code, DISTRICT.camera_centre_code)
    assert info.value.segment == segment
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_is_refused():
    with pytest.raises(InvalidDeviceId, match="must be a string"):
        parse_device_id(51030400001320000001)


def test_centre_prefix_is_a_parameter():
    code = "51030401001320000001"  # grassroots unit 01
    assert parse_device_id(code, centre="510304").unit == "01"
    assert parse_device_id("44030600001320000001", centre=None).county == "440306"
    with pytest.raises(InvalidDeviceId, match="44030600 is not under the district's centre 51030400"):
        parse_device_id("44030600001320000001", DISTRICT.camera_centre_code)


@pytest.mark.parametrize("value, expected", [
    ("131", True), ("132", True), ("121", True), ("111", False), ("118", False), ("200", False), ("134", False),
    ("51030400001210000001", True), ("51030400001180000001", False),
])
def test_is_camera_type(value, expected):
    assert is_camera_type(value) is expected
    assert CAMERA_TYPES == {"121", "131", "132"}


def test_is_camera_type_of_a_parsed_id():
    assert is_camera_type(parse_device_id("51030400001310000001"))
    assert not is_camera_type(parse_device_id("51030400002000000001"))


# -- only ASCII digits: str.isdigit() and \d also accept full-width, Arabic-Indic, superscript digits
FULL_WIDTH_ID = "５１０３０４００００１３２００００００１"   # 51030400001320000001 in full-width digits


@pytest.mark.parametrize("code, segment, position, char", [
    (FULL_WIDTH_ID, "centre code", 1, "５"),
    ("5103040000132000000１", "serial", 20, "１"),              # one full-width digit
    ("51030400001320000٠01", "serial", 18, "٠"),               # Arabic-Indic zero
    ("510304000013200000²1", "serial", 19, "²"),               # superscript two: isdigit() but not int()
    ("51030400001३20000001", "type", 12, "३"),                # Devanagari three
    ("510304000𝟎1320000001", "industry", 10, "𝟎"),             # mathematical bold zero
])
def test_non_ascii_digits_are_not_digits(code, segment, position, char):
    assert len(code) == 20 and code[position - 1] == char and code[position - 1].isdigit()
    with pytest.raises(InvalidDeviceId) as info:
        parse_device_id(code, centre=None)
    assert info.value.segment == segment
    assert f"character {position} ({char!r}) is not a digit" in str(info.value)


def test_type_name_and_camera_type_want_ascii_digits():
    from camera_registry.gb28181 import type_name

    assert type_name("150") == "front-end peripheral (reserved code)"
    assert type_name("１５０") is None and type_name("1²0") is None
    assert not is_camera_type("１３１") and not is_camera_type(FULL_WIDTH_ID)


@pytest.mark.parametrize("text", ["5103040000131000001", "510304000013100000011", "1310", "13", " 131 "])
def test_is_camera_type_reads_the_type_only_from_a_20_digit_id_or_a_3_digit_code(text):
    assert is_camera_type(text) is (text.strip() == "131")
