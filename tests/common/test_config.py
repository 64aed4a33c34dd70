"""Settings fail fast when their values cannot work together."""

import pytest
from pydantic import ValidationError

from api.core.config import ApiSettings
from common.config import CoreSettings


def test_a_visibility_timeout_below_the_hard_limit_is_allowed():
    # A job running past the visibility timeout meets its redelivered message under a live
    # lease, which skips it (tests/workers/test_long_jobs.py): the old rule is not needed.
    settings = CoreSettings(task_hard_time_limit_s=7200, broker_visibility_timeout_s=3600)
    assert settings.broker_visibility_timeout_s == 3600


def test_soft_limit_must_come_before_the_hard_one():
    with pytest.raises(ValidationError, match="TASK_SOFT_TIME_LIMIT_S"):
        CoreSettings(task_soft_time_limit_s=100, task_hard_time_limit_s=100)


def test_each_domain_has_its_own_limits_over_the_defaults():
    settings = CoreSettings(task_soft_time_limit_s_by_domain={"llm": 50}, task_hard_time_limit_s_by_domain={"llm": 60})
    assert settings.time_limits("llm") == (50, 60)
    assert settings.time_limits("ocr") == (1700, 1800)


def test_a_domain_soft_limit_past_its_hard_one_is_refused_naming_the_domain():
    with pytest.raises(ValidationError, match=r"TASK_HARD_TIME_LIMIT_S \(domain ocr\)"):
        CoreSettings(task_soft_time_limit_s_by_domain={"ocr": 1900})


def test_domain_limits_are_read_from_json(monkeypatch):
    monkeypatch.setenv("TASK_SOFT_TIME_LIMIT_S_BY_DOMAIN", '{"llm": 0.5}')
    monkeypatch.setenv("TASK_HARD_TIME_LIMIT_S_BY_DOMAIN", '{"llm": 2}')
    assert CoreSettings().time_limits("llm") == (0.5, 2)


def test_upload_cap_defaults_to_20_mb(monkeypatch):
    monkeypatch.delenv("MAX_UPLOAD_BYTES", raising=False)
    assert ApiSettings().max_upload_bytes == 20 * 1024 * 1024
