"""Numbers for people (abm.report.format) and the TOML writer of the config page."""

from __future__ import annotations

import tomllib

import pytest

from abm.report.format import (
    fmt,
    fmt_diff,
    fmt_diff_range,
    fmt_pct,
    fmt_range,
    round_sig,
    scale_for,
    sig,
)
from abm.report.tomlout import dumps


@pytest.mark.parametrize("value, unit, text", [
    (1.23e9, "USD", "$1.2bn"),
    (-3.4e8, "USD", "\u2212$340m"),
    (950.0, "USD", "$950"),
    (12_345.0, "t/yr", "12 kt/yr"),
    (999_600.0, "t/yr", "1.0 Mt/yr"),
    (850.0, "t/yr", "850 t/yr"),
    (62.44, "price", "62.4 USD/kg"),
    (0.384, "share", "38%"),
    (0.35, "1/yr^0.5", "35%"),
    (3.2, "projects", "3.2 projects"),
    (float("nan"), "USD", "n/a"),
])
def test_fmt_rounds_for_people(value, unit, text):
    assert fmt(value, unit) == text


def test_sig_keeps_integer_digits_and_carries():
    assert sig(1234.5) == "1,234"
    assert sig(9.96) == "10"
    assert sig(0.00123) == "0.0012"
    assert sig(0) == "0"
    assert fmt_pct(0.0384) == "3.8%"
    assert fmt_pct(0.12, signed=True) == "+12%"


def test_ranges_share_one_unit_and_enough_figures():
    assert fmt_range(1.0e9, 1.4e9, "USD") == "$1.0\u20131.4bn"
    assert fmt_range(0.31, 0.45, "share") == "31\u201345%"
    assert fmt_range(8000, 14000, "t/yr") == "8\u201314 kt/yr"
    # a narrow interval gets more figures instead of "$4.5–4.5bn"
    assert fmt_range(4.47e9, 4.53e9, "USD") == "$4.47\u20134.53bn"
    assert fmt_range(5.0, 5.0, "t") == "5.0 t"  # all runs alike: one number
    assert fmt_range(-0.05, 0.01, "share") == "\u22125.0% to 1.0%"


def test_differences_of_shares_are_percentage_points():
    assert fmt_diff(-0.24, "share") == "\u221224 pts"
    assert fmt_diff(6600.0, "t/yr") == "+6.6 kt/yr"
    assert fmt_diff_range(-0.28, -0.20, "share") == "\u221228 to \u221220 pts"


def test_scale_for_money_and_round_sig():
    s = scale_for([2.5e8, 1.2e9], "USD")
    assert (s.factor, s.unit) == (1e9, "USD bn")
    assert list(round_sig([123456.789, 0.00012345], 3)) == [123000.0, 0.000123]


def test_toml_roundtrip_of_a_config_dict():
    data = {"experiment": {"name": "x", "title": '<script>"q"', "seed": 3, "none": None},
            "regions": [{"name": "US", "club": True}, {"name": "EU", "club": False}],
            "scenarios": {"cfd_110": {"policy.floor.level": 110.0,
                                      "policy.floor": {"mechanism": "cfd"}}},
            "sweep": {"parameters": {"a.b": [1.0, 2.0], "c.d": {"low": -1.0, "high": 1.0}}},
            "empty": {}, "policy": {"floor": None}}
    back = tomllib.loads(dumps(data))
    expected = {**data, "experiment": {"name": "x", "title": '<script>"q"', "seed": 3},
                "policy": {}}
    assert back == expected


def test_toml_strings_with_control_characters_round_trip():
    """U+007F (DEL), NUL, other controls, quotes, backslashes and line separators all parse back."""
    text = "a\x7fb\x00c\x1f\td\"e\\f\u2028g\u00e9\U0001F600\r\n"
    data = {"experiment": {"title": text, "question": "\x7f"}, "k\x7fey": {"v\x00": text}}
    assert tomllib.loads(dumps(data)) == data


def test_toml_none_is_left_out_of_tables_and_refused_in_arrays():
    import pytest

    data = {"a": None, "t": {"b": None, "c": 1}, "items": [{"x": None, "y": 2}, {"y": 3}]}
    assert tomllib.loads(dumps(data)) == {"t": {"c": 1}, "items": [{"y": 2}, {"y": 3}]}
    with pytest.raises(ValueError, match=r"t\.levels: TOML has no null"):
        dumps({"t": {"levels": [1.0, None, 3.0]}})
