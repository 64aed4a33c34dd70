"""The two forms of a recognize request (multipart ``file``; JSON with ``image_base64``,
``file_id``, ``image_url`` or ``document_url``) under the app's settings: the models that check them and the
OpenAPI body that states them, from one declaration."""

from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel, create_model

from common.contracts.bounds import tightened
from common.contracts.jobs import time_limit
from common.contracts.ocr import IMAGE_FIELDS, RecognizeJsonRequest, RecognizeOptions

IMAGE_HELP = (
    "PNG, JPEG, WebP, TIFF or BMP, at most {size} bytes and {pixels} pixels (width x height); or a document "
    "(PDF, multi-page TIFF) as a file, an upload or a URL, at most {document} bytes: one job, its pages read in "
    "parallel."
)


@dataclass(frozen=True)
class Upload:
    """What a recognize request may hold."""

    max_bytes: int
    max_pixels: int
    options: type[RecognizeOptions]  # the form's fields beside ``file``
    json_body: type[RecognizeJsonRequest]
    inline_max_bytes: int  # a multipart file larger than this streams to the store from disk
    max_document_bytes: int = 0  # a PDF or multi-page TIFF (as a file, an upload or a URL)
    # A document by URL is fetched by the API (its pages are counted at submit), by the rules
    # the workers fetch images by: INPUT_URL_TIMEOUT_S, INPUT_URL_ALLOW_PRIVATE.
    url_timeout_s: float = 30
    url_allow_private: bool = False

    @property
    def max_file_bytes(self) -> int:
        """A multipart file may be an image or a document: the larger of their caps."""
        return max(self.max_bytes, self.max_document_bytes)

    @property
    def help(self) -> str:
        return IMAGE_HELP.format(size=self.max_bytes, pixels=self.max_pixels, document=self.max_document_bytes)


def base64_chars(size: int) -> int:
    """The length of ``size`` bytes in padded base64."""
    return -(-size // 3) * 4


def upload_rules(
    max_bytes: int,
    max_pixels: int,
    max_time_limit_s: float,
    inline_max_bytes: int,
    max_document_bytes: int = 0,
    url_timeout_s: float = 30,
    url_allow_private: bool = False,
    fields: type[BaseModel] | None = None,
) -> Upload:
    """The recognize request's models, bounded by the image cap and the domain's hard time limit;
    with ``fields``, those of another route's besides (``/v1/extract``'s schema)."""
    longest = (time_limit(max_time_limit_s), None)
    name = "" if fields is None else fields.__name__
    options = create_model(
        f"{name}RecognizeOptions",
        __base__=(RecognizeOptions,) if fields is None else (fields, RecognizeOptions),  # fields' own win
        time_limit_s=longest,
    )
    json_body = create_model(
        f"{name}RecognizeJsonRequest",
        __base__=(RecognizeJsonRequest,) if fields is None else (fields, RecognizeJsonRequest),
        time_limit_s=longest,
        image_base64=tightened(RecognizeJsonRequest, "image_base64", max_length=base64_chars(max_bytes)),
    )
    return Upload(
        max_bytes,
        max_pixels,
        cast(type[RecognizeOptions], options),
        cast(type[RecognizeJsonRequest], json_body),
        inline_max_bytes,
        max_document_bytes,
        url_timeout_s,
        url_allow_private,
    )


def _form_field(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema as a form sends it: a form field is given or left out, never null."""
    schema = dict(schema)
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    schema.pop("default", None)
    return {**branches[0], **schema} if branches else schema


def openapi_body(upload: Upload) -> dict[str, Any]:
    """The route's ``requestBody``: both forms, every rule the API applies to them stated."""
    form_fields = {name: _form_field(s) for name, s in upload.options.model_json_schema()["properties"].items()}
    form_fields["webhook_events_filter"]["description"] += " In a form: the field repeated, or comma-separated."
    image = {"type": "string", "format": "binary", "maxLength": upload.max_file_bytes, "description": upload.help}
    as_json = upload.json_body.model_json_schema()
    for name in IMAGE_FIELDS:
        as_json["properties"][name]["description"] += f" The image: {upload.help}"
    form = {
        "type": "object",
        "required": ["file", *upload.options.model_json_schema().get("required", [])],
        "properties": {"file": image, **form_fields},
        # Unknown fields are refused: a misspelt option would else be dropped unseen.
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": form}, "application/json": {"schema": as_json}},
        }
    }
