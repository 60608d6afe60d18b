"""clinalign.Engine on the shipped principles: classify, synthesize, grade with the real
local judge, reward, score, errors as exceptions, the GIL released, hot reload."""

import json
import shutil
import threading
import time

import pytest

import clinalign
from conftest import ANKLE, CHEST_PAIN


def principle_tags(row):
    return [t for item in row["rubrics"] for t in item["tags"] if t.startswith("principle:")]


def test_the_package_is_the_installed_wheel_and_documents_itself(repo):
    import clinalign._native as native

    assert not native.__file__.startswith(str(repo / "python")), native.__file__
    assert clinalign.__version__ == "0.1.0"
    doc = clinalign.Engine.__doc__
    for word in ("principles", "judge", "classifier", "threads", "PrincipleSetError"):
        assert word in doc, word
    for method in ("classify", "synthesize", "grade", "reward", "score", "watch", "reload"):
        assert getattr(clinalign.Engine, method).__doc__, method


def test_synthesize_one_row_and_many(engine, repo):
    manifests = [p for p in (repo / "principles").glob("*/*.toml")]
    assert len(engine.principles) == len(manifests) >= 119
    assert engine.left_out == {"principles": [], "plugins": []}
    row = engine.synthesize({"id": "q1", "messages": CHEST_PAIN})
    assert row["id"] == "q1" and row["principle_set"] == engine.principle_set
    assert row["scenario"]["urgency"]["value"] == "emergent"
    tags = principle_tags(row)
    assert any(t.startswith("principle:urgency.emergency-first@") for t in tags), tags
    rows = engine.synthesize([{"id": str(i), "messages": m} for i, m in enumerate([CHEST_PAIN, ANKLE] * 20)])
    assert [r["id"] for r in rows] == [str(i) for i in range(40)]
    assert rows[0]["rubrics"] == row["rubrics"]
    assert rows[1]["scenario"]["urgency"]["value"] != "emergent"
    # The JSON-text form gives the same rows.
    lines = engine.synthesize_lines([json.dumps({"id": "q1", "messages": CHEST_PAIN})])
    assert json.loads(lines[0]) == row


def test_classify_keeps_given_labels(engine):
    rows = engine.classify([{"messages": CHEST_PAIN}, {"messages": ANKLE, "scenario": {"expertise": "health-professional"}}])
    assert set(rows[0]["scenario"]) == {"urgency", "uncertainty", "expertise", "task"}
    assert rows[1]["scenario"]["expertise"]["value"] == "health-professional"


def test_healthbench_rows_from_the_bundled_sample(engine, repo):
    rows = [json.loads(l) for l in (repo / "data/healthbench/oss_eval_sample_9.jsonl").read_text().splitlines()]
    out = engine.synthesize(rows)
    for before, after in zip(rows, out):
        assert after["prompt_id"] == before["prompt_id"]
        assert after["reference_rubrics"] == before["rubrics"]
        assert principle_tags(after)


def test_bad_rows_raise_row_errors_naming_the_row_and_field(engine):
    with pytest.raises(clinalign.RowError, match=r'row 1: prompt\[0\]\.role: unknown role "bot"'):
        engine.synthesize([{"messages": ANKLE}, {"prompt": [{"role": "bot", "content": "hi"}]}])
    with pytest.raises(clinalign.RowError, match=r"row 0: no conversation"):
        engine.classify({"id": "x"})
    with pytest.raises(clinalign.RowError, match=r"row 2: expected a dict"):
        engine.synthesize([{"messages": ANKLE}, {"messages": ANKLE}, "text"])
    with pytest.raises(clinalign.RowError, match=r"row 0: scenario"):
        engine.synthesize({"messages": ANKLE, "scenario": {"urgency": "whenever"}})
    assert issubclass(clinalign.RowError, clinalign.ClinAlignError)


def test_a_broken_principle_set_names_the_file_and_line(tmp_path, repo):
    shutil.copy(repo / "principles/dimensions.toml", tmp_path / "dimensions.toml")
    (tmp_path / "urgency").mkdir()
    (tmp_path / "urgency/bad.toml").write_text('id = "urgency.bad"\nversion = 1\n')
    # By default the set loads without it and says why; require_all=True refuses the set.
    left = clinalign.Engine(tmp_path, plugins=repo / "plugins").left_out["principles"]
    assert len(left) == 1 and "bad.toml:2" in json.dumps(left), left
    with pytest.raises(clinalign.PrincipleSetError, match=r"bad\.toml:2"):
        clinalign.Engine(tmp_path, plugins=repo / "plugins", require_all=True)
    with pytest.raises(clinalign.PrincipleSetError, match="no dimensions.toml"):
        clinalign.Engine(tmp_path / "urgency")
    with pytest.raises(ValueError, match="rules, model or auto"):
        clinalign.Engine(repo / "principles", classifier="guess")
    with pytest.raises(ValueError, match="classifier= auto needs a language model"):
        clinalign.Engine(repo / "principles", classifier="auto")
    with pytest.raises(clinalign.JudgeError, match=r'model= "gpt": use local:smollm2'):
        clinalign.Engine(repo / "principles", model="gpt")


def test_grade_and_score_with_the_local_judge(engine):
    row = {
        "prompt_id": "ankle",
        "prompt": ANKLE,
        "completion": "Rest it, ice it for 20 minutes at a time, wrap it and keep it raised.",
        "rubrics": [
            {"criterion": "Recommends rest and ice.", "points": 8, "tags": ["axis:accuracy"]},
            {"criterion": "Recommends immediate surgery.", "points": -7, "tags": ["axis:accuracy"]},
        ],
    }
    graded = engine.grade(row)
    items = graded["rubrics"]
    assert all(0.0 <= it["p_met"] <= 1.0 and isinstance(it["criteria_met"], bool) for it in items)
    assert graded["grade"]["judge"].startswith("local:")
    soft = (8 * items[0]["p_met"] - 7 * items[1]["p_met"]) / 8
    assert graded["grade"]["soft_score"] == pytest.approx(min(max(soft, 0.0), 1.0), abs=1e-6)
    summary = clinalign.score([graded, graded])
    assert summary["n_examples"] == 2
    assert summary["score"] == pytest.approx(graded["grade"]["score"])
    assert "axis:accuracy" in summary["metrics"]
    with pytest.raises(clinalign.RowError, match="row 0: no response to grade"):
        engine.grade({"prompt": ANKLE, "rubrics": row["rubrics"]})
    with pytest.raises(clinalign.JudgeError, match="openai-logprobs:URL"):
        engine.grade(row, judge="gpt")


def test_score_matches_healthbench_on_fixed_verdicts():
    rows = [
        {"rubrics": [{"criterion": "a", "points": 5, "tags": [], "criteria_met": True},
                     {"criterion": "b", "points": 5, "tags": [], "criteria_met": False},
                     {"criterion": "c", "points": -5, "tags": [], "criteria_met": True}]},
        {"rubrics": [{"criterion": "a", "points": 4, "tags": [], "criteria_met": True}]},
    ]
    s = clinalign.score(rows)
    # (5 - 5) / 10 = 0 and 4 / 4 = 1: the mean is 0.5.
    assert s["score"] == pytest.approx(0.5)
    assert s["metrics"]["overall_score:n_samples"] == 2
    with pytest.raises(clinalign.RowError, match="row 0"):
        clinalign.score([{"rubrics": [{"criterion": "a", "points": -1, "tags": [], "criteria_met": True}]}])


def test_rewards_with_synthesized_and_given_rubrics(engine):
    good = "Call emergency services (911) now: this may be a heart attack. Chew an aspirin if you are not allergic."
    samples = [
        {"conversation": CHEST_PAIN, "response": good},
        {"prompt": ANKLE[0]["content"], "completion": [{"role": "assistant", "content": "Rest and ice it."}],
         "rubric": [{"criterion": "Recommends rest and ice.", "points": 5, "tags": []}]},
    ]
    detail = engine.reward(samples, detail=True)
    assert len(detail) == 2
    assert all(0.0 <= d["reward"] <= 1.0 for d in detail)
    assert len(detail[1]["rubrics"]) == 1 and "p_met" in detail[1]["rubrics"][0]
    assert any(t.startswith("principle:") for it in detail[0]["rubrics"] for t in it["tags"])
    assert engine.reward(samples[1]) == pytest.approx(detail[1]["reward"])
    with pytest.raises(clinalign.RowError, match="row 0: response: missing"):
        engine.reward([{"conversation": CHEST_PAIN}])


def test_the_gil_is_released_while_the_engine_works(engine):
    rows = [{"id": str(i), "messages": CHEST_PAIN if i % 2 else ANKLE} for i in range(3000)]
    ticks = []
    done = threading.Event()
    result = {}

    def work():
        result["rows"] = engine.synthesize(rows)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    t.join()
    assert len(result["rows"]) == 3000
    # While one thread was inside the engine, this one kept running: with the GIL held, it
    # would have been stuck for the whole call and ticked about once.
    assert len(ticks) >= 20, len(ticks)


def test_watch_reloads_an_edited_principle(tmp_path, repo):
    shutil.copytree(repo / "principles", tmp_path / "principles")
    e = clinalign.Engine(tmp_path / "principles", plugins=repo / "plugins")
    before = e.principle_set
    assert e.last_reload() is None
    manifest = tmp_path / "principles/urgency/emergency-first.toml"
    with e.watch() as w:
        assert w.running
        time.sleep(0.5)
        manifest.write_text(manifest.read_text().replace("before any other advice", "before anything else"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = e.last_reload()
            if r and r["outcome"]["status"] == "live":
                break
            time.sleep(0.2)
    assert not w.running
    assert r["outcome"]["status"] == "live", r
    assert e.principle_set != before and r["outcome"]["principle_set"] == e.principle_set
    row = e.synthesize({"messages": CHEST_PAIN})
    assert any("before anything else" in it["criterion"] for it in row["rubrics"])
    # A manual reload with nothing changed says so.
    assert e.reload()["outcome"]["status"] == "unchanged"


def test_packs_join_the_principle_set(tmp_path, repo):
    pack = tmp_path / "ward"
    (pack / "principles/task").mkdir(parents=True)
    (pack / "pack.toml").write_text('name = "ward"\nversion = "0.3.0"\nwit = "0.2.0"\n')
    manifest = (repo / "principles/task").glob("*.toml").__next__().read_text()
    (pack / "principles/task/ward-ankle.toml").write_text(
        'id = "task.ward-ankle"\nversion = "0.1.0"\ndimension = "task"\ntitle = "Ankle sprain care"\n'
        'statement = "When a user describes a sprained or twisted ankle, a good response gives first-aid steps."\n'
        'plugin = "template"\n[config.triggers]\nany = ["twisted my ankle", "sprained ankle"]\n'
        '[[config.items]]\ncriterion = "Recommends rest, ice, compression and elevation for the first two days."\n'
        'points = 5\naxis = "completeness"\n'
    )
    engine = clinalign.Engine(repo / "principles", packs=[pack])
    ours = [p for p in engine.principles if p.get("pack") == "ward@0.3.0"]
    assert [p["id"] for p in ours] == ["task.ward-ankle"]
    row = engine.synthesize({"id": "a", "messages": ANKLE})
    tagged = [i for i in row["rubrics"] if "pack:ward@0.3.0" in i["tags"]]
    assert len(tagged) == 1 and "principle:task.ward-ankle@0.1.0" in tagged[0]["tags"], row
    assert engine.principle_set != clinalign.Engine(repo / "principles").principle_set
    # An id the built-in set has is refused, naming both files.
    name = next((repo / "principles/task").glob("*.toml")).name
    (pack / "principles/task" / name).write_text(manifest)
    with pytest.raises(clinalign.PrincipleSetError, match=r"is already used by .*principles/task/" + name):
        clinalign.Engine(repo / "principles", packs=[pack])
