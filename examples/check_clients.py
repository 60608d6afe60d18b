"""Checks the trainer recipes against a running `clinalign serve` (standard library only):
    python3 examples/check_clients.py http://127.0.0.1:8077
Calls verl's compute_score (sync and async), TRL's reward function (standard and
conversational), and /get_reward as OpenRLHF sends it; exits non-zero on any failure."""

import asyncio
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from clinalign import client as clinalign_client  # noqa: E402
import trl_reward  # noqa: E402
import verl_reward  # noqa: E402

QUESTION = "I twisted my ankle playing football an hour ago. It is swollen. What should I do?"
GOOD = "Rest the ankle, ice it for 20 minutes every few hours, wrap it and keep it raised. If you cannot bear weight, get an X-ray today."
BAD = "Walk it off, it will be fine."


def is_reward(x):
    return isinstance(x, float) and 0.0 <= x <= 1.0


def main(url):
    os.environ["CLINALIGN_URL"] = url
    convo = [{"role": "user", "content": QUESTION}]

    # verl: conversation in ground_truth (JSON), sync and async.
    r = verl_reward.compute_score("healthbench", GOOD, json.dumps(convo), None)
    assert is_reward(r["score"]), r
    r2 = asyncio.run(verl_reward.compute_score_async("healthbench", BAD, json.dumps({"prompt": convo}), None))
    assert is_reward(r2["score"]), r2
    r3 = verl_reward.compute_score("healthbench", GOOD, "", {"prompt": convo})
    assert abs(r3["score"] - r["score"]) < 1e-9, (r3, r)
    print("verl compute_score: good %.3f, bad %.3f" % (r["score"], r2["score"]))

    # TRL: standard (strings) and conversational completions, one batch per call.
    std = trl_reward.clinalign_reward(prompts=[QUESTION, QUESTION], completions=[GOOD, BAD])
    assert len(std) == 2 and all(is_reward(x) for x in std), std
    conv = trl_reward.clinalign_reward(
        prompts=[convo, convo],
        completions=[[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]],
    )
    assert len(conv) == 2 and all(is_reward(x) for x in conv), conv
    conv_async = asyncio.run(trl_reward.clinalign_reward_async(prompts=[convo], completions=[[{"role": "assistant", "content": GOOD}]]))
    assert abs(conv_async[0] - conv[0]) < 1e-9
    print("TRL reward: standard %s, conversational %s" % (std, conv))

    # OpenRLHF: one sample per request, ChatML transcript, as its agent executor sends it.
    prompt = "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n" % QUESTION
    body = {"query": [prompt + GOOD + "<|im_end|>"], "prompts": [prompt], "labels": [""]}
    req = urllib.request.Request(url + "/get_reward", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=180) as resp:
        reply = json.loads(resp.read())
    assert len(reply["rewards"]) == 1 and is_reward(reply["rewards"][0]), reply
    assert len(reply["scores"]) == 1 and isinstance(reply["extra_logs"], dict), reply
    empty = clinalign_client.post("/get_reward", {"query": [], "prompts": [], "labels": []})
    assert empty["rewards"] == [], empty
    print("OpenRLHF /get_reward: %.3f" % reply["rewards"][0])

    # Errors are raised, never scored as 0.
    try:
        clinalign_client.post("/v1/reward", {"samples": [{"conversation": convo}]}, retries=0)
    except clinalign_client.ClinAlignError as e:
        assert "samples[0]" in str(e), e
    else:
        raise AssertionError("a sample without a response must fail")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else clinalign_client.DEFAULT_URL)
