"""``/v1/uploads``: make an upload, send its bytes, see it, delete it (the caller's own only)."""

from typing import Annotated, cast

from fastapi import APIRouter, Path, Request, Response, status

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import UploadsDep
from api.core.errors import documented
from api.uploads.schemas import CreateUploadRequest, UploadCreated, UploadView, create_request, put_body
from common.contracts.inputs import UPLOAD_ID_PATTERN

PREFIX = "/v1/uploads"
UploadId = Annotated[str, Path(pattern=UPLOAD_ID_PATTERN, description="The id `POST /v1/uploads` answered.")]


def max_body_bytes(settings: ApiSettings) -> int:
    """A PUT's body is the file: the upload cap (bodies stream to the store, never held whole)."""
    return settings.max_stored_upload_bytes


def _content_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def build_router(settings: ApiSettings) -> APIRouter:
    """The upload routes under the upload cap (``MAX_STORED_UPLOAD_BYTES``)."""
    create_body = create_request(settings.max_stored_upload_bytes)
    router = APIRouter(prefix=PREFIX, tags=["uploads"])

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=UploadCreated,
        responses=documented(413, 422, 429, 503),
    )
    async def create_upload(
        body: create_body,  # type: ignore[valid-type]
        request: Request,
        uploads: UploadsDep,
        principal: PrincipalDep,
    ) -> UploadCreated:
        """Make an upload: PUT the file's bytes to the `upload_url` it answers, then name its `id`
        as `file_id` in jobs. It counts against the key's storage quota until it expires
        (`expires_at`) or is deleted; a job that uses it keeps a copy of its own."""

        def put_url(upload_id: str) -> str:
            return str(request.url_for("put_upload", upload_id=upload_id))

        asked = cast(CreateUploadRequest, body)
        return await uploads.create(principal, asked.filename, asked.content_type, asked.bytes, put_url)

    @router.put(
        "/{upload_id}",
        response_model=UploadView,
        responses=documented(400, 404, 409, 413, 503),
        openapi_extra=put_body(settings.max_stored_upload_bytes),
    )
    async def put_upload(
        upload_id: UploadId, request: Request, uploads: UploadsDep, principal: PrincipalDep
    ) -> UploadView:
        """Send the upload's bytes (once), streamed to the store: more than it declared is refused
        and nothing is kept."""
        return await uploads.receive(principal, upload_id, request.stream(), _content_length(request))

    @router.get("/{upload_id}", response_model=UploadView, responses=documented(404, 503))
    async def get_upload(upload_id: UploadId, uploads: UploadsDep, principal: PrincipalDep) -> UploadView:
        """The upload: pending until its bytes arrive, then uploaded with its size."""
        return await uploads.view(principal, upload_id)

    @router.delete("/{upload_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(404))
    async def delete_upload(upload_id: UploadId, uploads: UploadsDep, principal: PrincipalDep) -> Response:
        """Delete the upload now (jobs that used it keep their copies); its bytes leave the quota."""
        await uploads.delete(principal, upload_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
