"""The trainer adapters in-process: verl's compute_score (sync and async) and TRL's reward
function (standard and conversational batches), on the engine with the real local judge."""

import asyncio
import json

import pytest

from clinalign import rewards
from conftest import ANKLE

GOOD = "Rest the ankle, ice it for 20 minutes every few hours, wrap it and keep it raised. If you cannot bear weight, get an X-ray today."
BAD = "Walk it off, it will be fine."
RUBRIC = [
    {"criterion": "Recommends rest and ice.", "points": 6, "tags": []},
    {"criterion": "Says when to get an X-ray.", "points": 3, "tags": []},
    {"criterion": "Says to ignore the injury.", "points": -2, "tags": []},
]


@pytest.fixture(autouse=True)
def in_process(engine, monkeypatch):
    monkeypatch.delenv("CLINALIGN_URL", raising=False)
    rewards.use_engine(engine)
    yield
    rewards.use_engine(None)


def test_verl_compute_score_reads_the_conversation_from_ground_truth_or_extra_info(engine):
    gt = json.dumps({"prompt": ANKLE, "rubrics": RUBRIC})
    r = rewards.compute_score("healthbench", GOOD, gt)
    assert set(r) == {"score", "healthbench_score"} and 0.0 <= r["score"] <= 1.0
    want = engine.reward({"conversation": ANKLE, "response": GOOD, "rubric": RUBRIC})
    assert r["score"] == pytest.approx(want)
    r2 = asyncio.run(rewards.compute_score_async("healthbench", GOOD, "", {"prompt": ANKLE}))
    assert 0.0 <= r2["score"] <= 1.0
    with pytest.raises(ValueError, match="no conversation"):
        rewards.compute_score("healthbench", GOOD, "", None)


def test_trl_reward_takes_standard_and_conversational_batches(engine):
    standard = rewards.trl_reward([ANKLE[0]["content"]] * 2, [GOOD, BAD], rubrics=[RUBRIC, RUBRIC])
    assert len(standard) == 2 and all(0.0 <= x <= 1.0 for x in standard)
    # The same rewards as the engine gives those samples (SmolLM2 is too small a judge to
    # rank GOOD above BAD reliably; the trainer-facing shape is what is checked here).
    want = engine.reward([{"prompt": ANKLE[0]["content"], "response": r, "rubric": RUBRIC} for r in (GOOD, BAD)])
    assert standard == pytest.approx(want)
    convo = rewards.trl_reward([ANKLE, ANKLE], [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]], rubrics=[RUBRIC, RUBRIC])
    assert convo == pytest.approx(standard)
    assert asyncio.run(rewards.trl_reward_async([ANKLE], [GOOD], rubrics=[RUBRIC])) == pytest.approx(standard[:1])
