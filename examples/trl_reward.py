"""TRL GRPOTrainer reward function backed by `clinalign serve`.

    from trl import GRPOConfig, GRPOTrainer
    from trl_reward import clinalign_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[clinalign_reward], args=GRPOConfig(...), train_dataset=ds)

Works with standard datasets (prompt and completion are strings) and conversational ones
(prompt is a list of {role, content}; completion is [{"role": "assistant", "content": ...}]).
A `rubrics` column, when the dataset has one, is the rubric to grade against; otherwise the
server synthesizes one per prompt (cached, so the group's completions share it).
"""

from clinalign_client import post


def clinalign_reward(prompts, completions, **kwargs):
    """One float per completion; the whole generation batch goes in one request."""
    rubrics = kwargs.get("rubrics")
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
    return post("/v1/reward", {"samples": samples}, url=kwargs.get("url"))["rewards"]


async def clinalign_reward_async(prompts, completions, **kwargs):
    """The same, as a coroutine (TRL gathers async reward functions concurrently)."""
    import asyncio

    return await asyncio.to_thread(clinalign_reward, prompts, completions, **kwargs)
