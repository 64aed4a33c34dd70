"""Every setting the code reads is documented in .env.example and reaches the services reading it."""

from pydantic import TypeAdapter

from tests.deploy.code_settings import read_settings, reads, settings_classes
from tests.deploy.repo import api_services, env_example, light_worker_services, services, worker_services

# Read by the code, documented, but deliberately not passed through by compose.
NOT_PASSED = {
    "DOMAIN": "fixed per service",
    "WORKER_NAME": "each replica names itself <domain>@<container hostname>",
    "WORKER_POOL": "the domain's pool keeps one model copy per GPU process",
    "WORKER_CONCURRENCY": "the domain's concurrency keeps one model copy per GPU process",
    "XDG_DATA_HOME": "only places BLOB_STORE_URL's default, which compose sets (the blobs volume)",
}
# Documented with the deployment's value, not the code's default.
DEPLOYMENT_VALUES = {
    "REDIS_URL": "the compose service",
    "LLM_CACHE_DIR": "the image puts it on the model-cache volume",
    "BLOB_STORE_URL": "compose's blobs volume",
    "DOMAIN": "per service",
}


def test_settings_discovery_finds_the_known_settings_classes():
    names = {cls.__name__ for cls in settings_classes()}
    assert {"CoreSettings", "ApiSettings", "WorkerSettings", "OcrSettings", "OcrApiSettings"} <= names


def test_every_setting_the_code_reads_is_documented_in_env_example():
    missing = sorted({s.name for s in read_settings()} - set(env_example()))
    assert not missing, f"add to .env.example (with its default): {missing}"


def _services_reading(module: str) -> set[str]:
    roles = dict.fromkeys(api_services(), "api") | dict.fromkeys(
        [*worker_services(), *light_worker_services()], "worker"
    )
    return {n for n, role in roles.items() if reads(module, role=role, domain=services()[n]["environment"]["DOMAIN"])}


def test_every_setting_reaches_the_services_that_read_it():
    missing = []
    for setting in read_settings():
        if setting.name in NOT_PASSED:
            continue
        for name in sorted(_services_reading(setting.module)):
            if setting.name not in services()[name]["environment"]:
                missing.append(f"{name}: {setting.name} (read in {setting.module})")
    assert not missing, missing


def test_documented_defaults_match_the_code():
    documented = env_example()
    wrong = []
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for field_name, field in cls.model_fields.items():
            name = (prefix + field_name).upper()
            shown = documented.get(name)
            if name in DEPLOYMENT_VALUES or field.default_factory or field.default is None or not shown:
                continue
            if field.is_required():
                continue
            if TypeAdapter(field.annotation).validate_python(shown, strict=False) != field.default:
                wrong.append(f"{name}: .env.example shows {shown!r}, the code's default is {field.default!r}")
    assert not wrong, wrong
