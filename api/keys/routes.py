"""``/v1/keys``: create, list and revoke API keys (admin keys only)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field

from api.core.auth import AdminDep
from api.core.errors import ApiError, documented
from common import apikeys
from common.apikeys import KeyRecord, Role
from common.scripts import AsyncScripts

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class CreateKeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key.")
    role: Role = "user"
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000, description="null: the server default.")
    max_jobs_in_flight: int | None = Field(None, ge=1, le=1_000_000, description="null: the server default.")


class CreatedKey(KeyRecord):
    key: str = Field(description="The secret: shown this once, stored only as a hash.")


class KeyList(BaseModel):
    keys: list[KeyRecord]


def _scripts(request: Request) -> AsyncScripts:
    scripts: AsyncScripts = request.app.state.scripts
    return scripts


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedKey, responses=documented(422))
async def create_key(body: CreateKeyRequest, request: Request, admin: AdminDep) -> CreatedKey:
    """Create a key; its secret is in the answer and nowhere else."""
    record, secret = apikeys.new_key(body.name, body.role, body.rate_limit_per_minute, body.max_jobs_in_flight)
    await _scripts(request).run(apikeys.create(record, secret))
    return CreatedKey(**record.model_dump(), key=secret)


@router.get("", response_model=KeyList)
async def list_keys(request: Request, admin: AdminDep) -> KeyList:
    """Every key, without secrets."""
    return KeyList(keys=await _scripts(request).run(apikeys.list_keys()))


@router.delete("/{key_id}", response_model=KeyRecord, responses=documented(404))
async def revoke_key(key_id: Annotated[str, Path(max_length=64)], request: Request, admin: AdminDep) -> KeyRecord:
    """Revoke a key: it stops working on every API process within two seconds."""
    record = await _scripts(request).run(apikeys.revoke(key_id))
    if record is None:
        raise ApiError(404, "key_not_found", f"no key with id {key_id!r}")
    return record
