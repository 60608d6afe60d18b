"""Reward functions for RL trainers, backed by the engine in this process or by a
``clinalign serve`` reward server.

verl (``reward.custom_reward_function``; ≤ 0.7 uses top-level ``custom_reward_function.*``)::

    reward:
      custom_reward_function:
        path: /path/to/site-packages/clinalign/rewards.py   # or a file that imports it
        name: compute_score                                 # or compute_score_async

TRL::

    from clinalign.rewards import trl_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[trl_reward], args=GRPOConfig(...), train_dataset=ds)

In-process (the default), the engine is :func:`use_engine`'s, else one built on first use
from ``$CLINALIGN_PRINCIPLES`` with the judge ``$CLINALIGN_JUDGE`` (default
``local:smollm2``). With ``url=`` (or, when no engine was set, ``$CLINALIGN_URL``) the
rewards come from a ``clinalign serve`` at that address instead (``/v1/reward``, retried,
bearer token from ``$CLINALIGN_TOKEN``).

Without a rubric, the principles write one for the sample's conversation; a rubric of your
own (for example a row written by ``clinalign synthesize``) is graded as it is. A sample that
cannot be read or graded raises: a failure is never scored as 0.
"""

import asyncio
import json
import os
import threading

from . import client

__all__ = ["use_engine", "compute_score", "compute_score_async", "trl_reward", "trl_reward_async", "verl_sample", "trl_samples"]

_engine = None
_lock = threading.Lock()


def use_engine(engine):
    """Makes ``engine`` (a :class:`clinalign.Engine` with a judge) the one the reward
    functions use in-process."""
    global _engine
    _engine = engine


def _in_process(engine):
    global _engine
    if engine is not None:
        return engine
    with _lock:
        if _engine is None:
            from .engine import Engine

            _engine = Engine(judge=os.environ.get("CLINALIGN_JUDGE", "local:smollm2"))
        return _engine


def _server(url, engine):
    """The server's URL when rewards should come from one."""
    if url:
        return url.rstrip("/")
    if engine is None and _engine is None and os.environ.get("CLINALIGN_URL"):
        return client.base_url()
    return None


def verl_sample(solution_str, ground_truth, extra_info=None):
    """The reward sample of a verl call: the conversation from ``ground_truth`` (JSON: the
    list of turns, or an object ``{"prompt" | "messages" | "conversation", "rubrics"?}``),
    else from ``extra_info["prompt"]``."""
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


def compute_score(data_source, solution_str, ground_truth, extra_info=None, *, url=None, engine=None, **kwargs):
    """verl's per-sample reward: ``{"score": reward (0..1), "healthbench_score": hard score}``."""
    sample = verl_sample(solution_str, ground_truth, extra_info)
    server = _server(url, engine)
    if server:
        reply = client.post("/v1/reward", {"samples": [sample]}, url=server)
        return {"score": reply["rewards"][0], "healthbench_score": reply["scores"][0]}
    r = _in_process(engine).reward(sample, detail=True)
    return {"score": r["reward"], "healthbench_score": r["score"]}


async def compute_score_async(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """:func:`compute_score` as a coroutine (verl runs async reward functions concurrently;
    the engine releases the GIL, so they overlap)."""
    return await asyncio.to_thread(compute_score, data_source, solution_str, ground_truth, extra_info, **kwargs)


def trl_samples(prompts, completions, rubrics=None):
    """Reward samples of a TRL batch: standard (strings) or conversational (lists of turns)
    prompts and completions; ``rubrics``, a dataset column, when given."""
    samples = []
    for i, (prompt, completion) in enumerate(zip(prompts, completions)):
        sample = {"response": completion}
        if isinstance(prompt, str):
            sample["prompt"] = prompt
        else:
            sample["conversation"] = prompt
        if rubrics is not None and rubrics[i]:
            sample["rubric"] = rubrics[i]
        samples.append(sample)
    return samples


def trl_reward(prompts, completions, *, url=None, engine=None, **kwargs):
    """TRL ``GRPOTrainer`` reward function: one float per completion, the whole generation
    batch at once. A ``rubrics`` column of the dataset, when it has one, is graded as given."""
    samples = trl_samples(prompts, completions, kwargs.get("rubrics"))
    server = _server(url, engine)
    if server:
        return client.post("/v1/reward", {"samples": samples}, url=server)["rewards"]
    return _in_process(engine).reward(samples)


async def trl_reward_async(prompts, completions, **kwargs):
    """:func:`trl_reward` as a coroutine (TRL gathers async reward functions concurrently)."""
    return await asyncio.to_thread(trl_reward, prompts, completions, **kwargs)
