"""One region check for every face (issue 13): codes, names, aliases, calling codes."""

import pytest

import tgcheck
from tgcheck.regions import RegionError, fixed_region, lookup


@pytest.mark.parametrize("value, code", [
    ("GB", "GB"), ("gb", "GB"), (" GBR ", "GB"), ("UK", "GB"), ("England", "GB"),
    ("Scotland", "GB"), ("Wales", "GB"), ("United Kingdom", "GB"), ("44", "GB"),
    ("+44", "GB"), ("0044", "GB"), (44, "GB"), (44.0, "GB"), ("44.0", "GB"), ("1.0", "US"),
    ("USA", "US"), ("America", "US"), ("U.S.A.", "US"), ("United States", "US"), ("1", "US"),
    ("Côte d'Ivoire", "CI"), ("cote d'ivoire", "CI"), ("Ivory Coast", "CI"),
    ("Korea, Republic of", "KR"), ("South Korea", "KR"), ("Iran", "IR"), ("Russia", "RU"),
    ("Türkiye", "TR"), ("Turkey", "TR"), ("IND", "IN"), ("India", "IN"), ("91", "IN"),
    ("Kosovo", "XK"), ("XK", "XK"),
])
def test_accepted_forms(value, code):
    assert lookup(value) == code
    assert fixed_region(value) == code


def test_a_fraction_is_no_calling_code():
    # "44.0" is 44 written through a float; "44.5" is no calling code at all.
    assert lookup("44.5") is None and lookup("+44.05") is None


@pytest.mark.parametrize("value", [None, "", "  ", float("nan")])
def test_empty_is_no_region(value):
    assert fixed_region(value) is None


@pytest.mark.parametrize("value, hint", [
    ("Untied Kingdom", "did you mean GB (United Kingdom)"),
    ("Germny", "DE (Germany)"),
    ("XX", "use an ISO code"),
    ("Antarctica", "no phone numbering plan"),
    ("999", "use an ISO code"),
])
def test_unknown_fixed_region_is_a_usage_error_with_a_suggestion(value, hint):
    with pytest.raises(RegionError, match="region") as caught:
        fixed_region(value)
    assert hint in str(caught.value)
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, tgcheck.TgcheckError)


def test_check_refuses_an_unknown_region_before_any_call(tmp_path):
    # No key and no server: the region error comes first, nothing is sent.
    settings = tgcheck.Settings(api_key="k", base_url="https://127.0.0.1:9", home=tmp_path)
    with pytest.raises(RegionError, match="did you mean GB"):
        tgcheck.check(["07911 123456"], region="Untied Kingdom", settings=settings)


def test_per_row_is_the_one_rule_of_region_columns():
    """tgcheck.regions.per_row: the CLI's --region-column, a SQL macro's
    region_column and an Excel range of regions read rows alike."""
    from tgcheck.regions import per_row

    assert per_row([None, " ", float("nan")], "CH") == "CH"
    assert per_row(["", None]) is None
    assert per_row(["GB", "", "Narnia"], "CH") == ["GB", "CH", "Narnia"]


@pytest.mark.parametrize("value, code", [
    # Issue 22 item 2: CRM exports name countries in their own language (CLDR's
    # names, through Babel), with or without accents, in any script.
    ("Brasil", "BR"), ("Deutschland", "DE"), ("España", "ES"), ("Espana", "ES"),
    ("Italia", "IT"), ("Österreich", "AT"), ("Osterreich", "AT"), ("Schweiz", "CH"),
    ("Suisse", "CH"), ("Svizzera", "CH"), ("Frankreich", "FR"), ("Polska", "PL"),
    ("Россия", "RU"), ("日本", "JP"), ("Nederland", "NL"), ("België", "BE"),
    ("México", "MX"), ("Türkiye", "TR"), ("BRASIL", "BR"),
])
def test_country_names_in_other_languages(value, code):
    assert lookup(value) == code
    assert fixed_region(value) == code


def test_a_name_two_languages_give_to_different_countries_names_neither():
    # "Kongo" is Congo-Brazzaville and Congo-Kinshasa alike: no guess.
    assert lookup("Kongo") is None
    with pytest.raises(RegionError):
        fixed_region("Kongo")


def test_an_international_number_with_a_local_language_region_cell():
    from tgcheck.normalize import resolve_all

    got = resolve_all(["+55 11 96123-4243", "(11) 96123-4243", "030 123456"],
                      ["Brasil", "Brasil", "Deutschland"])
    assert got == ["+5511961234243", "+5511961234243", "+4930123456"]
