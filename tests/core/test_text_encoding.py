"""tgcheck.text_encoding: the encodings Excel writes, sniffed once for every reader."""

import codecs

import pytest

from tgcheck import text_encoding


@pytest.mark.parametrize("data, encoding", [
    (codecs.BOM_UTF8 + "Zürich\n".encode(), "utf-8-sig"),
    ("Zürich\n".encode("utf-16"), "utf-16"),
    ("Zürich\n".encode(), "utf-8"),
    ("Zürich €\n".encode("cp1252"), "cp1252"),
    (b"caf\x81\n", "latin-1"),  # 0x81 is a hole in cp1252
])
def test_sniff_and_decode(tmp_path, data, encoding):
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    assert text_encoding.sniff_file(path, data[:8192]) == encoding
    assert text_encoding.decode(data).lstrip("\ufeff").startswith("caf" if data[0] == 99
                                                                   else "Zürich")


def test_a_late_non_utf8_byte_is_found_before_any_row_is_used(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"+41791234567\n" * 200_000 + "Zürich\n".encode("cp1252"))
    assert text_encoding.sniff_file(path, path.read_bytes()[:8192]) == "cp1252"
