"""verl custom reward function backed by `clinalign serve` (python/clinalign/rewards.py in
server mode; with the package installed, `clinalign.rewards` also runs the engine in-process).

In the verl config (v0.8+ keys; <=0.7 uses top-level custom_reward_function.*):

    reward:
      custom_reward_function:
        path: examples/verl_reward.py
        name: compute_score          # or compute_score_async
      reward_manager:
        name: naive

Data: put the conversation in the row's `reward_model.ground_truth` as JSON — either the list
of {role, content} turns, or an object {"prompt": [...], "rubrics": [...]} to grade against a
rubric of your own (for example a row written by `clinalign synthesize`) — or in
`extra_info["prompt"]`. Without a rubric the server synthesizes one from the principles (and
caches it, so n rollouts of one prompt share it). The server: $CLINALIGN_URL.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from clinalign import client, rewards  # noqa: E402


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl calls this per sample; returns {"score": reward, ...} (extra keys are logged)."""
    url = kwargs.pop("url", None) or client.base_url()
    return rewards.compute_score(data_source, solution_str, ground_truth, extra_info, url=url)


async def compute_score_async(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """The same, as a coroutine: verl runs async reward functions concurrently."""
    return await asyncio.to_thread(compute_score, data_source, solution_str, ground_truth, extra_info, **kwargs)
