"""TRL GRPOTrainer reward function backed by `clinalign serve` (python/clinalign/rewards.py in
server mode; with the package installed, `clinalign.rewards.trl_reward` also runs the engine
in-process).

    from trl import GRPOConfig, GRPOTrainer
    from trl_reward import clinalign_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[clinalign_reward], args=GRPOConfig(...), train_dataset=ds)

Works with standard datasets (prompt and completion are strings) and conversational ones
(prompt is a list of {role, content}; completion is [{"role": "assistant", "content": ...}]).
A `rubrics` column, when the dataset has one, is the rubric to grade against; otherwise the
server synthesizes one per prompt (cached, so the group's completions share it).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from clinalign import client, rewards  # noqa: E402


def clinalign_reward(prompts, completions, **kwargs):
    """One float per completion; the whole generation batch goes in one request."""
    url = kwargs.pop("url", None) or client.base_url()
    return rewards.trl_reward(prompts, completions, url=url, **kwargs)


async def clinalign_reward_async(prompts, completions, **kwargs):
    """The same, as a coroutine (TRL gathers async reward functions concurrently)."""
    return await asyncio.to_thread(clinalign_reward, prompts, completions, **kwargs)
