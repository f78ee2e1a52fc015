"""inspect.lua 3.1.3's rules, each with the text its source says it prints.

The expected strings are written by hand from inspect.lua 3.1.3
(kikito/inspect.lua 691eea1f:inspect.lua) and LuaJIT's number formatting
(openresty/luajit2 15f58c96:src/lj_strfmt_num.c), not taken from our output;
they run without Lua. ``test_lua_inspect_luajit.py`` checks the same port
against the real thing where it is installed.
"""

from __future__ import annotations

import pytest

from license_report.report import formats, lua_inspect

NUMBERS = [
    (0, "0"),
    (-0.0, "-0"),
    (7, "7"),
    (-3, "-3"),
    (296, "296"),
    # %.14g: fourteen digits fit, so integers below 10**14 print whole...
    (99_999_999_999_999, "99999999999999"),
    # ... and from 10**14 on in exponent form, trailing zeros dropped, two exponent digits.
    (10**14, "1e+14"),
    (10**14 + 1, "1e+14"),
    (10**15, "1e+15"),
    (2**53, "9.007199254741e+15"),
    (2**63, "9.2233720368548e+18"),
    # A tie after the 14th digit rounds away from zero (C's printf would give ...234e+14).
    (123_456_789_012_345, "1.2345678901235e+14"),
    (100_000_000_000_005, "1.0000000000001e+14"),
    (12_345_678_901_234.5, "12345678901235"),
    (-12_345_678_901_234.5, "-12345678901235"),
    (99_999_999_999_999.5, "1e+14"),  # the carry adds a digit
    # Not a tie: 0.1 is 0.1000000000000000055..., below half a unit of the 14th digit.
    (0.1, "0.1"),
    (1.5, "1.5"),
    (1 / 3, "0.33333333333333"),
    (0.0001, "0.0001"),  # fixed down to exponent -4
    (0.00001234, "1.234e-05"),  # exponent form below it
    (1e21, "1e+21"),
    (5e-324, "4.9406564584125e-324"),
    (float("inf"), "inf"),
    (float("-inf"), "-inf"),
    (float("nan"), "nan"),
]


@pytest.mark.parametrize(("value", "text"), NUMBERS, ids=[text for _, text in NUMBERS])
def test_numbers_print_as_luajit_tostring(value: float, text: str) -> None:
    assert lua_inspect.inspect(value) == text


def test_integers_too_large_for_a_double_lose_digits_as_in_lua() -> None:
    # 2**53 + 1 is not a double; Lua holds 2**53.
    assert lua_inspect.inspect({"n": 2**53 + 1}) == "{\n  n = 9.007199254741e+15\n}"


def test_keys_sort_by_bytes_identifiers_bare_others_bracketed() -> None:
    table = {"b": 1, "_": 2, "B": 3, "a1": 4, "1a": 5, "A_b": 6, "é": 7, "end": 8, "x-y": 9, "": 0}
    # Byte order: '1' (0x31) < 'A' < 'B' < '_' (0x5F) < 'a' < 'b' < 'e' < 'x' < 'é' (0xC3).
    assert lua_inspect.inspect(table) == (
        "{\n"
        '  [""] = 0,\n'
        '  ["1a"] = 5,\n'
        "  A_b = 6,\n"
        "  B = 3,\n"
        "  _ = 2,\n"
        "  a1 = 4,\n"
        "  b = 1,\n"
        "  end = 8,\n"  # 3.1.3 does not bracket Lua keywords
        '  ["x-y"] = 9,\n'
        '  ["é"] = 7\n'
        "}"
    )


def test_layout_sequences_inline_keys_on_their_own_lines() -> None:
    assert lua_inspect.inspect({}) == "{}"
    assert lua_inspect.inspect([]) == "{}"
    assert lua_inspect.inspect([1, 2]) == "{ 1, 2 }"
    assert lua_inspect.inspect({"a": [[], {}]}) == "{\n  a = { {}, {} }\n}"
    report = {
        "counters": {
            "buckets": [{"bucket": "2026-10", "request_count": 296}],
            "total_requests": 296,
        },
        "system_info": {"cores": 6, "uname": "Linux x86_64", "hostname": None},
    }
    assert lua_inspect.inspect(report) == (
        "{\n"
        "  counters = {\n"
        "    buckets = { {\n"
        '        bucket = "2026-10",\n'
        "        request_count = 296\n"
        "      } },\n"
        "    total_requests = 296\n"
        "  },\n"
        "  system_info = {\n"
        "    cores = 6,\n"
        '    uname = "Linux x86_64"\n'
        "  }\n"
        "}"
    )


def test_a_null_is_no_entry_and_leaves_a_hole_in_a_list() -> None:
    assert lua_inspect.inspect({"a": None}) == "{}"
    # The sequence stops at the hole; what follows is a numeric key, sorted before strings.
    assert lua_inspect.inspect([1, None, 3]) == "{ 1,\n  [3] = 3\n}"
    assert lua_inspect.inspect([None, "x"]) == '{\n  [2] = "x"\n}'


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("plain", '"plain"'),
        ('say "hi"', "'say \"hi\"'"),  # double quotes, no single ones: single-quoted
        ("it's", '"it\'s"'),
        ("both ' and \"", '"both \' and \\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("é中", '"é中"'),  # bytes above 127 are not control characters
        ("a\nb", '"a\\nb"'),
        ("\t1", '"\\t1"'),  # named escapes stay short before a digit
        ("\x01x", '"\\1x"'),
        ("\x012", '"\\0012"'),  # others take three digits before a digit
        ("\x1f", '"\\31"'),
        ("\x7f", '"\\127"'),  # DEL: escaped by 3.1.3 (3.1.1 leaves it raw)
    ],
)
def test_strings_escape_and_quote_as_inspect_3_1_3(text: str, printed: str) -> None:
    assert lua_inspect.inspect(text) == printed


def test_the_checksum_is_sha1_of_that_text_without_the_checksum_member() -> None:
    report = {"checksum": "stale", "services_count": 1, "license": {"license_key": "K"}}
    # sha1 of b'{\n  license = {\n    license_key = "K"\n  },\n  services_count = 1\n}',
    # computed with printf | sha1sum.
    assert formats.checksum(report) == "2a97a278795714425f76def97ba81b1695dd5371"


#: kong-research.md §11a: the sample table and the SHA-1 real inspect.lua 3.1.3 gave for it.
SAMPLE = {
    "timestamp": 1718000000, "kong_version": "3.5.0.0", "db_version": "postgres 13.4",
    "system_info": {"uname": "Linux x86_64", "cores": 8},
    "deployment_info": {"type": "traditional"},
    "license": {"license_key": "ASDASDASDASDASDASDASDASDASD_a1VASASD",
                "license_expiration_date": "2025-12-31"},
    "counters": {"total_requests": 1234, "buckets": [
        {"bucket": "2024-05", "request_count": 1000}, {"bucket": "UNKNOWN", "request_count": 234}]},
    "workspaces_count": 1, "rbac_users": 2, "services_count": 3, "routes_count": 4,
    "consumers_count": 0,
    "plugins_count": {"tiers": {"free": {"aws-lambda": 1, "cors": 2}, "enterprise": {},
                                "custom": {}},
                      "unique_route_lambdas": 1, "unique_route_kafkas": 0},
}  # fmt: skip


def test_the_research_test_vector() -> None:
    # kong-research.md §11a: real inspect.lua 3.1.3 under LuaJIT gave this SHA-1.
    assert formats.checksum(SAMPLE) == "0304fcca80049dffb98305fee1f989e3ea287d2f"
