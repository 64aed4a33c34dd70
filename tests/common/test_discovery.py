"""Domain discovery and the DOMAIN setting."""

import pytest

import api.domains
import workers.domains
from common.discovery import available_domains, parse_domains


def test_every_api_domain_has_a_worker_domain():
    api_side = set(available_domains(api.domains)) - {"base"}
    assert api_side and api_side <= set(available_domains(workers.domains))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("all", ["llm", "ocr"]), ("ocr", ["ocr"]), (" ocr , llm ", ["llm", "ocr"])],
)
def test_domain_setting_forms(value, expected):
    assert parse_domains(value, ["base", "llm", "ocr"]) == expected


@pytest.mark.parametrize("value", ["vision", "ocr,vision", "", "base"])
def test_unknown_domains_name_the_valid_ones(value):
    with pytest.raises(ValueError, match="valid: llm, ocr or 'all'"):
        parse_domains(value, ["base", "llm", "ocr"])
