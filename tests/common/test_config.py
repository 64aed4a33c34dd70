"""Settings fail fast when their values cannot work together."""

import pytest
from pydantic import ValidationError

from api.core.config import ApiSettings
from common.config import CoreSettings


def test_visibility_timeout_must_outlast_the_hard_time_limit():
    with pytest.raises(ValidationError, match="BROKER_VISIBILITY_TIMEOUT_S must exceed"):
        CoreSettings(task_hard_time_limit_s=7200, broker_visibility_timeout_s=3600)


def test_soft_limit_must_come_before_the_hard_one():
    with pytest.raises(ValidationError, match="TASK_SOFT_TIME_LIMIT_S"):
        CoreSettings(task_soft_time_limit_s=100, task_hard_time_limit_s=100)


def test_upload_cap_defaults_to_20_mb(monkeypatch):
    monkeypatch.delenv("MAX_UPLOAD_BYTES", raising=False)
    assert ApiSettings().max_upload_bytes == 20 * 1024 * 1024
