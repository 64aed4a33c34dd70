"""Request dependencies as ``Annotated`` aliases."""

from typing import Annotated, cast

from fastapi import Depends, Request

from api.core.config import ApiSettings
from api.core.jobs import JobService
from api.uploads.service import UploadService


# Dependencies are async on purpose: FastAPI runs plain ``def`` dependencies in its thread
# pool, a hand-off that cost the submit path more than its Redis round trip.
async def get_jobs(request: Request) -> JobService:
    return cast(JobService, request.app.state.jobs)


async def get_uploads(request: Request) -> UploadService:
    return cast(UploadService, request.app.state.uploads)


async def get_settings(request: Request) -> ApiSettings:
    return cast(ApiSettings, request.app.state.settings)


JobsDep = Annotated[JobService, Depends(get_jobs)]
UploadsDep = Annotated[UploadService, Depends(get_uploads)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
