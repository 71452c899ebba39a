"""Fixtures for training tests: a tiny model that already answers in the critic's boxed format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.prompts import critique_messages
from tests.training.helpers import arithmetic_item


@pytest.fixture(scope="session")
def answering_tiny_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model taught (plain AdamW, loss on the answer only) to reply `**Answer**: \\boxed{k}` with k = -1 or
    1 at random, so GRPO rollouts earn a reward sometimes and the group advantages are not all zero."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path_factory.mktemp("answering-tiny-model")
    for file in tiny_model_dir.iterdir():
        shutil.copy(file, path / file.name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    rows = []
    for i in range(8):
        item = arithmetic_item(i, wrong=i % 2 == 1)
        prompt = tokenizer.apply_chat_template(
            critique_messages(item.problem, item.steps), tokenize=False, add_generation_prompt=True
        )
        for answer in (-1, 1):
            rows.append((tokenizer(prompt)["input_ids"], tokenizer(f"**Answer**: \\boxed{{{answer}}}<|im_end|>")))
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is faster and does not spin on a shared CPU
    try:
        for _ in range(15):
            for prompt_ids, answer in rows[::3]:
                ids = torch.tensor([prompt_ids + answer["input_ids"]])
                hidden = model.model(input_ids=ids).last_hidden_state[:, len(prompt_ids) - 1 : -1]
                logits = model.lm_head(hidden)
                loss = torch.nn.functional.cross_entropy(logits[0], torch.tensor(answer["input_ids"]))
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(path)
    return path
