"""scripts/gpu_image_check.sh and Dockerfile.gpu in step, without building (the check downloads GBs).

The script builds the GPU images users deploy and checks inside them the libraries paddle and
torch open; these tests keep what it builds and checks the same as what the Dockerfile and the
pins say, so a change to one cannot silently make the other's report stale.
"""

import re
import subprocess

import pytest
from packaging.version import Version

from tests.deploy.repo import ROOT, dockerfile, extras, final_stage, pins, worker_services

SCRIPT = ROOT / "scripts" / "gpu_image_check.sh"


def _script() -> str:
    return SCRIPT.read_text()


def _shell_value(name: str) -> str:
    """A variable's literal value as the script assigns it: name="..." (one or more lines)."""
    match = re.search(rf'^{name}="([^"]*)"', _script(), re.M)
    assert match, f"scripts/gpu_image_check.sh assigns no {name}"
    return match[1]


def _gpu_images() -> dict[str, dict[str, str]]:
    """The script's images: name -> build arguments."""
    images = {}
    for line in _shell_value("gpu_images").strip().splitlines():
        name, *args = line.split()
        images[name] = dict(arg.split("=", 1) for arg in args)
    return images


def _dockerfile_args() -> dict[str, str]:
    return dict(ins.args.partition("=")[::2] for ins in dockerfile("Dockerfile.gpu") if ins.keyword == "ARG")


def _cuda_pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints" / "cuda11.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9-]+==[0-9.]+", line), line
            name, version = line.split("==")
            found[name] = version
    return found


def test_the_script_builds_the_compose_workers_with_their_gpu_extras():
    images = _gpu_images()
    compose = {name: s["build"]["args"]["DOMAIN_EXTRA"] for name, s in worker_services().items()}
    assert {name: args["DOMAIN_EXTRA"] for name, args in images.items()} == compose
    assert all(not extra.endswith("-cpu") and extra in extras() for extra in compose.values())


def test_every_build_argument_the_script_passes_is_one_dockerfile_gpu_declares():
    declared = _dockerfile_args()
    passed = {key for args in _gpu_images().values() for key in args}
    # The worker images are built by podman_images.sh's build_platform, which the script calls.
    assert re.search(r'^\s*build_platform "\$gpu_images"$', _script(), re.M)
    shared = (ROOT / "scripts" / "podman_images.sh").read_text()
    line = next(line for line in shared.splitlines() if re.match(r'\s*build "\$name" Dockerfile\.gpu ', line))
    passed |= set(re.findall(r'"?([A-Z_]+)=', line))
    assert passed >= {"BASE_IMAGE", "UV_IMAGE", "PYTHON_SOURCE", "DOMAIN_EXTRA", "CUDA_FROM_WHEELS"}
    assert passed <= set(declared), f"not ARGs of Dockerfile.gpu: {passed - set(declared)}"


def test_the_ocr_image_takes_cuda_from_the_wheels_and_the_llm_image_from_torch():
    images = _gpu_images()
    assert images["worker-ocr"].get("CUDA_FROM_WHEELS") == "1"
    assert "CUDA_FROM_WHEELS" not in images["worker-llm"]
    assert _dockerfile_args()["CUDA_FROM_WHEELS"] == '""'  # the default: the nvidia/cuda base's CUDA
    step = next(ins for ins in final_stage("Dockerfile.gpu") if ins.keyword == "RUN" and "cuda11.txt" in ins.args)
    assert "uv pip install --no-cache --no-deps -r constraints/cuda11.txt" in step.args
    assert '[ "${DOMAIN_EXTRA}" = ocr ]' in step.args  # torch brings its own CUDA: refused for llm


def test_the_libraries_the_script_loads_are_the_ones_the_dockerfile_links():
    # Dockerfile.gpu makes the unversioned names paddle dlopens; the script loads exactly those.
    step = next(ins.args for ins in final_stage("Dockerfile.gpu") if ins.keyword == "RUN" and "ln -s" in ins.args)
    linked = re.search(r"for lib in ([a-zA-Z ]+); do", step)
    assert linked
    assert _shell_value("paddle_libs").split() == [f"{lib}.so" for lib in linked[1].split()]
    assert "nvidia-wheels.conf" in step and "ldconfig" in step


def test_the_cuda_wheels_are_what_pypis_paddle_was_built_for_and_cover_every_library():
    cuda = _cuda_pins()
    # PyPI's paddlepaddle-gpu 2.6.2 is the CUDA 11.8 / cuDNN 8.6 build (paddle.version.cuda() and
    # .cudnn(), which the check asserts in the image against these same pins).
    assert pins("ocr")["paddlepaddle-gpu"] == "2.6.2"
    assert Version(cuda["nvidia-cuda-runtime-cu11"]).release[:2] == (11, 8)
    assert Version(cuda["nvidia-cudnn-cu11"]).release[:2] == (8, 6)
    assert all(name.endswith("-cu11") for name in cuda), "one CUDA major version: paddle opens unversioned names"
    providers = {
        "libcudnn": "nvidia-cudnn-cu11",
        "libcublas": "nvidia-cublas-cu11",
        "libcublasLt": "nvidia-cublas-cu11",
        "libcusolver": "nvidia-cusolver-cu11",
        "libcusparse": "nvidia-cusparse-cu11",
        "libcurand": "nvidia-curand-cu11",
        "libcufft": "nvidia-cufft-cu11",
        "libnvrtc": "nvidia-cuda-nvrtc-cu11",
    }
    wanted = {providers[name.removesuffix(".so")] for name in _shell_value("paddle_libs").split()}
    assert wanted | {"nvidia-cuda-runtime-cu11"} == set(cuda)
    assert all(part.endswith(".so.8") for part in _shell_value("cudnn_parts").split())


def test_the_default_base_carries_the_cuda_the_wheels_bring():
    # The two ways to build the OCR image give paddle the same CUDA major.minor.
    base = _dockerfile_args()["BASE_IMAGE"]
    cuda = ".".join(_cuda_pins()["nvidia-cuda-runtime-cu11"].split(".")[:2])
    assert re.fullmatch(rf"nvidia/cuda:{re.escape(cuda)}\.\d+-cudnn8-runtime-ubuntu\d+\.\d+", base), base


def test_the_cuda_torch_the_script_expects_is_the_one_the_llm_pins_install():
    expression = re.search(r"^torch_cuda=\$\(sed -n '([^']+)' constraints/llm\.txt\)", _script(), re.M)
    assert expression
    done = subprocess.run(
        ["sed", "-n", expression[1], "constraints/llm.txt"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    runtime = pins("llm")["nvidia-cuda-runtime"]
    assert done.stdout.strip() == ".".join(runtime.split(".")[:2])


@pytest.mark.parametrize("script", ["scripts/gpu_image_check.sh", "scripts/podman_images.sh"])
def test_the_scripts_parse_as_posix_sh(script):
    done = subprocess.run(["sh", "-n", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if script.endswith("gpu_image_check.sh"):
        assert _script().startswith("#!/bin/sh\n") and "\nset -eu\n" in _script()
        assert ". ./scripts/podman_images.sh" in _script()
