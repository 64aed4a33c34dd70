"""``/v1/keys``: create, list and revoke API keys (admin keys only), and the caller's own
webhook signing secret (any key)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.core.auth import AdminDep, Principal, PrincipalDep
from api.core.errors import ApiError, documented
from common import apikeys, webhook_secrets
from common.apikeys import KeyRecord, Role
from common.contracts.jobs import json_integer
from common.scripts import AsyncScripts, Call

router = APIRouter(prefix="/v1/keys", tags=["keys"])

WEBHOOK_SECRET_HELP = "Signs this key's webhook deliveries (Standard Webhooks: `whsec_` and base64)."


class CreateKeyRequest(BaseModel):
    # Strict: true is no limit of 1, nor "5" a number: what the document says is what is taken.
    model_config = ConfigDict(strict=True)

    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key.")
    role: Role = "user"
    rate_limit_per_minute: int | None = Field(
        None, ge=1, le=1_000_000, strict=False, description="null: the server default."
    )
    max_jobs_in_flight: int | None = Field(
        None, ge=1, le=1_000_000, strict=False, description="null: the server default."
    )
    weight: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="Its share of each domain's workers beside other keys' that have work waiting (fair share): "
        "a key of weight 2 gets twice the turns of a key of weight 1.",
    )

    _integers = field_validator("rate_limit_per_minute", "max_jobs_in_flight", mode="before")(json_integer)


class UpdateKeyRequest(BaseModel):
    """The fields to change; one left out stays as it is, one given as null goes back to the
    server default."""

    model_config = ConfigDict(strict=True, extra="forbid")

    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000, strict=False)
    max_jobs_in_flight: int | None = Field(None, ge=1, le=1_000_000, strict=False)
    weight: float | None = Field(None, gt=0, le=1000, description="null: 1.")

    _integers = field_validator("rate_limit_per_minute", "max_jobs_in_flight", mode="before")(json_integer)


class CreatedKey(KeyRecord):
    key: str = Field(description="The secret: shown this once, stored only as a hash.")
    webhook_secret: str = Field(description=WEBHOOK_SECRET_HELP + " Its owner can read it again and rotate it.")


class KeyList(BaseModel):
    keys: list[KeyRecord]


class WebhookSecret(BaseModel):
    key_id: str
    webhook_secret: str = Field(description=WEBHOOK_SECRET_HELP)
    previous_webhook_secret: str | None = Field(
        None, description="The secret a rotation replaced, still signing beside this one until it expires."
    )
    previous_expires_in_s: float | None = Field(None, description="Seconds the previous secret has left.")


def _scripts(request: Request) -> AsyncScripts:
    scripts: AsyncScripts = request.app.state.scripts
    return scripts


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedKey, responses=documented(422))
async def create_key(body: CreateKeyRequest, request: Request, admin: AdminDep) -> CreatedKey:
    """Create a key; its secret is in the answer and nowhere else."""
    record, secret = apikeys.new_key(
        body.name, body.role, body.rate_limit_per_minute, body.max_jobs_in_flight, body.weight
    )
    webhook_secret = webhook_secrets.new_secret()
    await _scripts(request).run(apikeys.create(record, secret, webhook_secret))
    return CreatedKey(**record.model_dump(), key=secret, webhook_secret=webhook_secret)


@router.get("", response_model=KeyList)
async def list_keys(request: Request, admin: AdminDep) -> KeyList:
    """Every key, without secrets."""
    return KeyList(keys=await _scripts(request).run(apikeys.list_keys()))


async def _own_secret(
    request: Request, response: Response, principal: Principal, call: Call[webhook_secrets.Secrets | None]
) -> WebhookSecret:
    found = await _scripts(request).run(call)
    if found is None:  # revoked since the request was let in (keys are cached for a second)
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecret(
        key_id=principal.id,
        webhook_secret=found.current,
        previous_webhook_secret=found.previous,
        previous_expires_in_s=round(found.previous_left_s, 1) if found.previous else None,
    )


@router.get("/me/webhook-secret", response_model=WebhookSecret)
async def get_webhook_secret(request: Request, response: Response, principal: PrincipalDep) -> WebhookSecret:
    """The secret that signs the webhook deliveries of the calling key's jobs."""
    return await _own_secret(request, response, principal, webhook_secrets.get(principal.id))


@router.post("/me/webhook-secret/rotate", response_model=WebhookSecret, responses=documented(422))
async def rotate_webhook_secret(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    keep_previous_s: Annotated[
        int,
        Query(
            ge=0,
            le=webhook_secrets.MAX_KEEP_PREVIOUS_S,
            description="How long the old secret keeps signing beside the new one (0: it stops at once).",
        ),
    ] = webhook_secrets.KEEP_PREVIOUS_S,
) -> WebhookSecret:
    """Replace the calling key's webhook secret. Every delivery from now on, retries included, is
    signed with the new one and, for `keep_previous_s` (24 h by default), with the old one too:
    `webhook-signature` then holds two signatures, so receivers can move over without a gap."""
    return await _own_secret(request, response, principal, webhook_secrets.rotate(principal.id, keep_previous_s))


@router.patch("/{key_id}", response_model=KeyRecord, responses=documented(404, 422))
async def update_key(
    key_id: Annotated[str, Path(max_length=64)], body: UpdateKeyRequest, request: Request, admin: AdminDep
) -> KeyRecord:
    """Change a key's limits or fair-share weight: every API process applies it within two seconds."""
    record = await _scripts(request).run(apikeys.update(key_id, body.model_dump(exclude_unset=True)))
    if record is None:
        raise ApiError(404, "key_not_found", f"no key with id {key_id!r}")
    return record


@router.delete("/{key_id}", response_model=KeyRecord, responses=documented(404))
async def revoke_key(key_id: Annotated[str, Path(max_length=64)], request: Request, admin: AdminDep) -> KeyRecord:
    """Revoke a key (and its webhook secret): it stops working on every API process within two seconds."""
    record = await _scripts(request).run(apikeys.revoke(key_id))
    if record is None:
        raise ApiError(404, "key_not_found", f"no key with id {key_id!r}")
    return record
