"""verl custom reward function backed by `clinalign serve`.

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
caches it, so n rollouts of one prompt share it).
"""

import asyncio
import json

from clinalign_client import post


def _sample(solution_str, ground_truth, extra_info):
    sample = {"response": solution_str}
    gt = ground_truth
    if isinstance(gt, str):
        try:
            gt = json.loads(gt)
        except ValueError:
            gt = None
    if isinstance(gt, list):
        sample["conversation"] = gt
    elif isinstance(gt, dict):
        sample["conversation"] = gt.get("prompt") or gt.get("messages") or gt.get("conversation")
        if gt.get("rubrics"):
            sample["rubric"] = gt["rubrics"]
    if not sample.get("conversation") and extra_info:
        sample["conversation"] = extra_info.get("prompt") or extra_info.get("conversation")
    if not sample.get("conversation"):
        raise ValueError("no conversation: put it in reward_model.ground_truth (JSON) or extra_info['prompt']")
    return sample


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl calls this per sample; returns {"score": reward, ...} (extra keys are logged)."""
    reply = post("/v1/reward", {"samples": [_sample(solution_str, ground_truth, extra_info)]}, url=kwargs.get("url"))
    return {"score": reply["rewards"][0], "healthbench_score": reply["scores"][0]}


async def compute_score_async(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """The same, as a coroutine: verl runs async reward functions concurrently."""
    return await asyncio.to_thread(compute_score, data_source, solution_str, ground_truth, extra_info, **kwargs)
