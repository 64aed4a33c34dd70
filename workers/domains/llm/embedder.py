"""Sentence embeddings with plain transformers: mean pooling over tokens, then L2 norm."""

import threading
import time

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from common.contracts.llm import EmbedResult
from workers.core.jobs import JobTimeLimitExceeded


class Embedder:
    def __init__(self, path: str, name: str, device: torch.device, batch_size: int) -> None:
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self._lock = threading.Lock()  # one forward pass at a time on the one model copy

    @torch.inference_mode()
    def embed(self, texts: list[str], deadline: float | None = None) -> EmbedResult:
        """One vector per text; past ``deadline`` (``time.monotonic()``, checked between
        batches) ``JobTimeLimitExceeded``."""
        vectors = []
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                if deadline is not None and time.monotonic() >= deadline:
                    raise JobTimeLimitExceeded(f"stopped after {start} texts")
                chunk = texts[start : start + self.batch_size]
                encoded = self.tokenizer(chunk, padding=True, truncation=True, return_tensors="pt").to(self.device)
                hidden = self.model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors.append(F.normalize(pooled.float(), p=2, dim=1).cpu())
        embeddings = torch.cat(vectors).tolist()
        return EmbedResult(embeddings=embeddings, dim=len(embeddings[0]), model=self.name)
