"""tgcheck.headers: one home for header and phone-column detection (tables, Excel)."""

from tgcheck import headers
from tgcheck_udfs.selection import looks_like_header


def test_a_row_is_a_header_unless_a_cell_is_a_number():
    assert headers.is_header_row(["id", "Phone", "note 12"])
    assert not headers.is_header_row(["1", "+41 79 123 45 67"])
    assert not headers.is_header_row([41791234567.0])
    assert headers.looks_like_number("079/123.45.67") and not headers.looks_like_number("12345")


def test_the_excel_top_cell_is_a_header_when_it_is_text_without_digits():
    assert looks_like_header is headers.is_header_cell
    assert headers.is_header_cell("Numara") and not headers.is_header_cell("Phone 2")
    assert not headers.is_header_cell("12345") and not headers.is_header_cell(" ")


def test_phone_columns_are_found_by_their_words():
    columns = ["id", "customerPhone", "Mobile Number", "phonetic", "e_mail"]
    assert headers.phone_columns(columns) == [1, 2]
    assert headers.header_key(" Phone-Number ") == "phonenumber"
