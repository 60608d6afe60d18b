"""clinalign.ray on a local Ray (two CPUs): rubric synthesis of 20,000 generated queries over an
actor pool equals the in-process engine's row for row; resuming redoes only the missing blocks;
Parquet in and out; a bad row is named by block and line; Datasets; grading with the real local
judge; the command line. No timing is asserted: a guard only stops a test that hangs."""

import faulthandler
import json
import os
import shutil
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

import clinalign  # noqa: E402
import clinalign.ray as cray  # noqa: E402

N_QUERIES = 20000
BLOCK_ROWS = 2500
# The tests compare rows exactly. On two busy cores a principle call can pass the default
# 50 ms deadline and fail for that query (its items left out of that row), so every engine
# here, the reference included, gets a deadline no call reaches.
ENGINE = {"plugin_timeout_ms": 10000}
GUARD_S = 600  # a safety stop for a hung test (it dumps every thread's stack and exits), not a timing


@pytest.fixture(autouse=True)
def guard():
    faulthandler.dump_traceback_later(GUARD_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def queries(tmp_path_factory):
    rows = cray.generate_queries(N_QUERIES, seed=7)
    lines = [json.dumps(r) for r in rows]
    path = tmp_path_factory.mktemp("queries") / "queries.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


@pytest.fixture(scope="module")
def reference(repo, queries):
    """The in-process engine's rows (its own thread pool), the answer to compare with."""
    engine = clinalign.Engine(repo / "principles", **ENGINE)
    return [json.loads(line) for line in engine.synthesize_lines(queries[1])]


@pytest.fixture(scope="module")
def principles(repo):
    return str(repo / "principles")


@pytest.fixture(scope="module")
def ray_run(queries, principles, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "rubrics.jsonl"
    summary = cray.synthesize(queries[0], out, principles=principles, **ENGINE, actors=2, block_rows=BLOCK_ROWS)
    return out, summary


def rid(row):
    return row.get("id", row.get("prompt_id"))


def write_jsonl(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_import_without_ray_says_what_to_install():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ray' or name.startswith('ray.'):\n"
        "            raise ImportError('No module named ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import clinalign, clinalign.queries\n"
        "assert clinalign.Engine\n"
        "try:\n"
        "    import clinalign.ray\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "clinalign[ray]"' in out and "ray[data]" in out, out


def test_synthesis_over_ray_equals_the_in_process_engine(ray_run, reference, engine):
    out, summary = ray_run
    blocks = N_QUERIES // BLOCK_ROWS
    assert summary["rows"] == summary["rows_done"] == N_QUERIES
    assert (summary["blocks"], summary["blocks_done"], summary["blocks_skipped"]) == (blocks, blocks, 0)
    assert summary["actors"] == 2 and summary["principle_set"] == engine.principle_set
    assert summary["queries_per_s"] > 0
    assert sorted(p.name for p in out.glob("part-*")) == ["part-%05d.jsonl" % b for b in range(blocks)]
    rows = list(cray.read_rows(out))
    assert len(rows) == len(reference) == N_QUERIES
    for got, want in zip(rows, reference):
        assert rid(got) == rid(want)
        assert got["principle_set"] == engine.principle_set
        assert any(t.startswith("principle:") for item in got["rubrics"] for t in item["tags"]), rid(got)
        assert got["rubrics"] == want["rubrics"], rid(got)
        assert got == want
    # The queries are varied: many scenarios, many different rubrics.
    assert len({json.dumps(r["scenario"], sort_keys=True) for r in rows}) >= 10
    assert len({len(r["rubrics"]) for r in rows}) >= 5


def test_a_rerun_redoes_only_the_missing_blocks(ray_run, queries, principles, tmp_path):
    out, _ = ray_run
    copy = tmp_path / "rubrics.jsonl"
    shutil.copytree(out, copy)
    for b in (1, 6):
        (copy / ("part-%05d.jsonl" % b)).unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in copy.glob("part-*")}
    summary = cray.synthesize(queries[0], copy, principles=principles, **ENGINE, actors=2, block_rows=BLOCK_ROWS)
    assert (summary["blocks_done"], summary["blocks_skipped"], summary["rows_done"]) == (2, 6, 2 * BLOCK_ROWS)
    assert {p.name: p.stat().st_mtime_ns for p in copy.glob("part-*") if p.name in kept} == kept
    for part in sorted(out.glob("part-*")):
        assert (copy / part.name).read_bytes() == part.read_bytes(), part.name
    # Nothing left to do, and nothing redone.
    again = cray.synthesize(queries[0], copy, principles=principles, **ENGINE, actors=2, block_rows=BLOCK_ROWS)
    assert (again["blocks_done"], again["blocks_skipped"]) == (0, 8)


def test_stop_after_k_blocks_then_resume(queries, reference, principles, tmp_path):
    src = write_jsonl(tmp_path / "some.jsonl", queries[1][:1500])
    out = tmp_path / "out"
    first = cray.synthesize(src, out, principles=principles, **ENGINE, actors=2, block_rows=250, max_blocks=2)
    assert (first["blocks"], first["blocks_done"], first["blocks_left"]) == (6, 2, 4)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.jsonl", "part-00001.jsonl"]
    # Different settings are refused rather than mixed into the same folder.
    with pytest.raises(ValueError, match="block_rows=250, this run has block_rows=300"):
        cray.synthesize(src, out, principles=principles, **ENGINE, block_rows=300)
    second = cray.synthesize(src, out, principles=principles, **ENGINE, actors=2, block_rows=250)
    assert (second["blocks_done"], second["blocks_skipped"], second["blocks_left"]) == (4, 2, 0)
    assert list(cray.read_rows(out)) == reference[:1500]
    # An edited input row makes its block stale: only that block is redone.
    lines = queries[1][:1500]
    lines[1100] = json.dumps({"id": "edited", "messages": [{"role": "user", "content": "Crushing chest pain spreading to my left arm, I'm sweating. What do I do?"}]})
    write_jsonl(src, lines)
    third = cray.synthesize(src, out, principles=principles, **ENGINE, actors=1, block_rows=250)
    assert (third["blocks_done"], third["blocks_skipped"]) == (1, 5)
    rows = list(cray.read_rows(out))
    assert rows[1100]["id"] == "edited" and rows[1100]["scenario"]["urgency"]["value"] == "emergent"
    assert rows[:1000] == reference[:1000] and rows[1200:] == reference[1200:1500]


def test_parquet_in_and_out(queries, reference, principles, tmp_path):
    # A Parquet file of a `row` column of JSON text, into Parquet parts.
    src = tmp_path / "queries.parquet"
    pq.write_table(pa.table({"row": queries[1][:1000]}), src)
    out = tmp_path / "rubrics.parquet"
    summary = cray.synthesize(src, out, principles=principles, **ENGINE, actors=2, block_rows=400)
    assert summary["format"] == "parquet" and summary["blocks_done"] == 3
    parts = sorted(out.glob("part-*"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    table = pq.read_table(parts[0])
    assert table.column_names == ["row"] and table.num_rows == 400
    assert list(cray.read_rows(out)) == reference[:1000]
    # Ordinary columns (heterogeneous rows: their nulls are left out), into JSONL parts; then
    # the Parquet output folder read back as an input.
    rows = [json.loads(line) for line in queries[1][1000:1300]]
    src2 = tmp_path / "columns.parquet"
    keys = list(dict.fromkeys(k for r in rows for k in r))  # pyarrow infers columns from the first row only
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), src2)
    out2 = tmp_path / "from-columns"
    cray.synthesize(src2, out2, principles=principles, **ENGINE, actors=1, block_rows=400, format="jsonl")
    assert [p.name for p in out2.glob("part-*")] == ["part-00000.jsonl"]
    assert list(cray.read_rows(out2)) == reference[1000:1300]
    out3 = tmp_path / "classified.jsonl"
    s3 = cray.classify(out, out3, principles=principles, **ENGINE, actors=1, block_rows=1000)
    assert s3["rows_done"] == 1000
    assert list(cray.read_rows(out3)) == reference[:1000]  # labels already there are kept


def test_a_bad_row_is_named_by_block_and_line(queries, reference, principles, tmp_path):
    lines = queries[1][:1000]
    bad = list(lines)
    bad[611] = json.dumps({"id": "bot", "messages": [{"role": "bot", "content": "hi"}]})
    bad[899] = '{"id": "broken", '
    src = write_jsonl(tmp_path / "in.jsonl", bad)
    out = tmp_path / "out"
    with pytest.raises(clinalign.RowError) as e:
        cray.synthesize(src, out, principles=principles, **ENGINE, actors=2, block_rows=250)
    message = str(e.value)
    assert "2 of 4 blocks failed" in message
    assert 'block 2, %s:612: messages[0].role: unknown role "bot"' % src in message, message
    assert "block 3, %s:900: invalid JSON" % src in message, message
    assert (e.value.summary["blocks_done"], e.value.summary["blocks_failed"]) == (2, 2)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.jsonl", "part-00001.jsonl"]
    # Fixed, the rerun does only the two failed blocks.
    write_jsonl(src, lines)
    summary = cray.synthesize(src, out, principles=principles, **ENGINE, actors=2, block_rows=250)
    assert (summary["blocks_done"], summary["blocks_skipped"]) == (2, 2)
    assert list(cray.read_rows(out)) == reference[:1000]


def test_synthesize_dataset(queries, reference, principles):
    want = {rid(r): r for r in reference[:600]}
    ds = ray.data.from_items([{"row": line} for line in queries[1][:600]])
    got = [json.loads(r["row"]) for r in cray.synthesize_dataset(ds, principles=principles, **ENGINE, actors=2, batch_size=100).take_all()]
    assert len(got) == 600 and {rid(r): r for r in got} == want
    # Ordinary columns work too.
    plain = [json.loads(line) for line in queries[1][:600]]
    plain = [r for r in plain if "messages" in r][:200]
    got = cray.synthesize_dataset(ray.data.from_items(plain), principles=principles, **ENGINE, actors=1).take_all()
    assert {rid(json.loads(r["row"])): json.loads(r["row"]) for r in got} == {rid(r): want[rid(r)] for r in plain}
    # A bad row is named by its id.
    ds = ray.data.from_items([{"row": queries[1][0]}, {"row": json.dumps({"id": "nobody", "messages": []})}])
    with pytest.raises(Exception, match=r'batch row 1 \(id "nobody"\)') as e:
        cray.synthesize_dataset(ds, principles=principles, **ENGINE, actors=1).take_all()
    assert isinstance(e.value, clinalign.RowError) or "RowError" in str(e.value)


def test_grading_over_ray_with_the_local_judge(reference, principles, tmp_path):
    rows = []
    for r in reference[:4]:
        r = dict(r, completion="Please see a doctor soon; if it gets worse or you feel very unwell, call emergency services.")
        r["rubrics"] = r["rubrics"][:3]  # the judge is slow on two cores: three items a row
        rows.append(json.dumps(r))
    src = write_jsonl(tmp_path / "to-grade.jsonl", rows)
    out = tmp_path / "graded.jsonl"
    summary = cray.grade(src, out, judge="local:smollm2", principles=principles, **ENGINE, actors=2, block_rows=2)
    assert (summary["rows_done"], summary["blocks_done"]) == (4, 2)
    graded = list(cray.read_rows(out))
    assert [rid(g) for g in graded] == [rid(r) for r in reference[:4]]
    for g in graded:
        assert g["grade"]["judge"].startswith("local:") and 0.0 <= g["grade"]["score"] <= 1.0
        assert all(isinstance(it["criteria_met"], bool) and 0.0 <= it["p_met"] <= 1.0 for it in g["rubrics"])
        assert all(any(t.startswith("principle:") for t in it["tags"]) for it in g["rubrics"])


def test_the_command_line(queries, reference, principles, tmp_path):
    address = ray.get_runtime_context().gcs_address
    src = write_jsonl(tmp_path / "in.jsonl", queries[1][:300])
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "clinalign.ray", "--address", address]
    done = subprocess.run(cmd + ["synthesize", str(src), str(tmp_path / "out"), "--actors", "1", "--block-rows", "100",
                                 "--principles", principles, "--plugin-timeout-ms", "10000", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["rows_done"], summary["blocks_done"]) == (300, 3)
    assert list(cray.read_rows(tmp_path / "out")) == reference[:300]
    bench = subprocess.run(cmd + ["bench", "--queries", "200", "--actors", "1,2", "--passes", "1", "--principles", principles],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bench.returncode == 0, bench.stderr
    result = json.loads(bench.stdout)
    assert result["queries"] == 200 and set(result["ray"]) == {"1", "2"}
    assert set(result["ratios"]) == {"ray_1_vs_in_process", "ray_2_vs_in_process", "ray_2_vs_ray_1"}
    assert "queries/s" in bench.stderr
    # A usage error exits 2; a missing input 1, with the reason.
    assert subprocess.run(cmd + ["synthesize"], capture_output=True, env=env).returncode == 2
    missing = subprocess.run(cmd + ["synthesize", str(tmp_path / "nope.jsonl"), str(tmp_path / "o"), "--principles", principles],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "no such file" in missing.stderr
