"""Fixtures for training tests: a tiny model that already replies in the critic's format (or with a bare box)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.prompts import critique_messages
from tests.training.helpers import arithmetic_item

TEACHING_STEPS = 400  # enough for the tiny model to write each reply without slips at temperature 1
PROMPTS = 6  # the items tests/training/helpers.add_labelled_items stores


# A critique of each step's own (bare labels such as "Checked." earn no reward: training.grpo.substantive_critique).
_CRITIQUES = {1: "Adds both given numbers.", 2: "Repeats that total again."}


def _judged(step: int, verdict: int) -> str:
    judgement = f"**Judgement**: The correctness of Step {step} is: \\boxed{{{verdict}}}"
    return f"**Critique of Step {step}**: {_CRITIQUES[step]}\n{judgement}\n\n"


# What the answering tiny model replies, each about as often: a complete critique naming step 1, a complete critique
# finding no error, and the shortcut strict rewards must not pay for (a bare answer box).
ANSWERING_REPLIES = {
    "critique, step 1 wrong": _judged(1, -1) + "**Answer**: \\boxed{1}",
    "critique, no error": _judged(1, 1) + _judged(2, 1) + "**Answer**: \\boxed{-1}",
    "bare answer box": "**Answer**: \\boxed{1}",
}


@pytest.fixture(scope="session")
def answering_tiny_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model taught (plain AdamW, loss on the reply only) to answer with one of ANSWERING_REPLIES at random,
    so GRPO rollouts earn a reward sometimes, the group advantages are not all zero, and the shortcut is sampled."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path_factory.mktemp("answering-tiny-model")
    for file in tiny_model_dir.iterdir():
        shutil.copy(file, path / file.name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    # Each prompt of the GRPO test with every reply: the choice among them does not depend on the prompt, so rollouts
    # mix them. One batch per prompt, taken in turn.
    replies = [tokenizer(reply + "<|im_end|>")["input_ids"] for reply in ANSWERING_REPLIES.values()]
    batches = []
    for i in range(PROMPTS):
        item = arithmetic_item(i, wrong=i % 2 == 1)
        prompt = tokenizer.apply_chat_template(
            critique_messages(item.problem, item.steps), tokenize=False, add_generation_prompt=True
        )
        prompt_ids = tokenizer(prompt)["input_ids"]
        width = len(prompt_ids) + max(len(r) for r in replies)
        ids = torch.full((len(replies), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(replies), width), dtype=torch.long)
        rows, positions, targets = [], [], []  # where each reply token is predicted from: loss on replies only
        for row, reply_ids in enumerate(replies):
            end = len(prompt_ids) + len(reply_ids)
            ids[row, :end] = torch.tensor(prompt_ids + reply_ids)
            mask[row, :end] = 1
            rows += [row] * len(reply_ids)
            positions += range(len(prompt_ids) - 1, end - 1)
            targets += reply_ids
        batches.append((ids, mask, rows, positions, torch.tensor(targets)))
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is faster and does not spin on a shared CPU
    try:
        for step in range(TEACHING_STEPS):
            ids, mask, rows, positions, targets = batches[step % len(batches)]
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[rows, positions]
            loss = torch.nn.functional.cross_entropy(model.lm_head(hidden), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(path)
    return path
