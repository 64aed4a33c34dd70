"""Request dependencies as ``Annotated`` aliases."""

from typing import Annotated

from fastapi import Depends, Request

from api.core.config import ApiSettings, get_api_settings
from api.core.jobs import JobService


def get_jobs(request: Request) -> JobService:
    return request.app.state.jobs


JobsDep = Annotated[JobService, Depends(get_jobs)]
SettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
