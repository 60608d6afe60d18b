"""Scale-out on Ray: rubric synthesis, classification and grading over a Ray Dataset.

One :class:`clinalign.Engine` per actor of an actor pool (one thread each unless told), fed
rows as JSON text through ``map_batches``, so heterogeneous nested rows never meet an Arrow
schema. The driver builds one engine first, so the plugins are built and compiled into the
on-disk cache before the actors start, and every actor checks that it loaded the driver's
principle set.

Files (:func:`synthesize`, :func:`classify`, :func:`grade`): the input, a JSONL or Parquet
file or a folder of them, is cut into fixed blocks of ``block_rows`` rows; each block's output
is written atomically (a temp file, then a rename) as ``part-<block>.jsonl`` or
``.parquet`` in the output folder, and a rerun skips the blocks whose part is there, so an
interrupted run resumes where it stopped. Datasets (:func:`synthesize_dataset`, …): a Ray
Dataset in, a lazy Ray Dataset with a ``row`` column of JSON text out.

    python -m clinalign.ray synthesize queries.jsonl rubrics.parquet --actors 8
    python -m clinalign.ray grade rubrics.parquet graded.jsonl --judge local:smollm2
    python -m clinalign.ray bench --queries 20000 --actors 1,2

Needs ``pip install "clinalign[ray]"`` (Ray Data and pyarrow). See docs/python.md.
"""

import argparse
import array
import hashlib
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray
    import ray.data
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'clinalign.ray needs Ray Data and pyarrow: pip install "clinalign[ray]" (or pip install "ray[data]")'
    ) from e

import clinalign

from .queries import generate_queries

__all__ = [
    "synthesize",
    "classify",
    "grade",
    "synthesize_dataset",
    "classify_dataset",
    "grade_dataset",
    "read_rows",
    "init",
    "bench",
    "generate_queries",
    "main",
]

DEFAULT_BLOCK_ROWS = 5000
"""Rows per block (the unit of resuming, and of work handed to one actor)."""
DEFAULT_BATCH_SIZE = 500
"""Rows per engine call inside an actor (bounds the memory of one call)."""

MANIFEST = ".clinalign-run"
"""The output folder's record of how its parts were made (JSON; dot-named so that readers of
the folder's ``*.jsonl`` / ``*.parquet`` skip it)."""

_PART = re.compile(r"^part-(\d+)\.(jsonl|parquet)$")
_ROW_PREFIX = re.compile(r"^row (\d+): ")
_ENGINE_OPTIONS = {
    "plugins", "plugin_timeout_ms", "strict", "model", "classifier", "judge", "judge_model",
    "concurrency", "threads", "cache_dir", "only", "require_all", "packs", "trust_packs", "allow_build_scripts",
}
_MODES = ("synthesize", "classify", "grade")


# --- Ray ----------------------------------------------------------------------------------


def init(address=None, *, num_cpus=None, **ray_init_args):
    """Connects to Ray unless already connected: to ``address`` (or ``$RAY_ADDRESS``) when
    given, else to a local Ray started with ``num_cpus`` (default: every core). The other
    functions call it, so an explicit call is only needed to choose."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, **ray_init_args)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **ray_init_args)


def _engine_kwargs(principles, options):
    unknown = set(options) - _ENGINE_OPTIONS
    if unknown:
        raise TypeError("unknown engine option(s): %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(sorted(_ENGINE_OPTIONS))))
    kwargs = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items() if v is not None}
    kwargs["principles"] = None if principles is None else str(principles)
    kwargs.setdefault("threads", 1)
    return kwargs


def _driver_engine(engine_kwargs):
    """The driver's engine: loading it builds and compiles the plugins into the on-disk cache
    (once, here) before any actor starts, and gives the principle set every actor must match."""
    return clinalign.Engine(**engine_kwargs)


class _EngineActor:
    """One engine in one Ray actor; ``mode`` is synthesize, classify or grade."""

    def __init__(self, mode, engine_kwargs, call_kwargs, principle_set, batch_size):
        self.engine = clinalign.Engine(**engine_kwargs)
        if self.engine.principle_set != principle_set:
            raise clinalign.PrincipleSetError(
                "node %s loaded principle set %s from %s, the driver %s: every node needs the same principles"
                % (socket.gethostname(), self.engine.principle_set, self.engine.principles_dir, principle_set)
            )
        self.method = getattr(self.engine, mode + "_lines")
        self.call_kwargs = call_kwargs
        self.batch_size = max(1, int(batch_size))

    def run(self, lines):
        """The engine's output lines for ``lines``; a bad row raises :class:`_BadRow` with
        its index in ``lines``."""
        out = []
        for start in range(0, len(lines), self.batch_size):
            try:
                out.extend(self.method(lines[start:start + self.batch_size], **self.call_kwargs))
            except clinalign.RowError as e:
                text = str(e)
                m = _ROW_PREFIX.match(text)
                if not m:
                    raise
                raise _BadRow(start + int(m.group(1)), text[m.end():]) from None
        return out


class _BadRow(Exception):
    def __init__(self, index, message):
        super().__init__(index, message)
        self.index, self.message = index, message


_BLOCK_RESULT = pa.schema([
    ("block", pa.int64()),
    ("lines", pa.list_(pa.large_string())),
    ("seconds", pa.float64()),
    ("error_row", pa.int64()),
    ("error", pa.large_string()),
])


class _BlockWorker(_EngineActor):
    """Works on whole blocks (one dataset row = ``{block, lines}``); a bad row comes back as
    data (the block's ``error``), so the other blocks still finish and are written."""

    def __call__(self, batch):
        out = []
        for item in batch.to_pylist():
            t0 = time.perf_counter()
            try:
                lines, index, error = self.run(item["lines"]), None, None
            except _BadRow as e:
                lines, index, error = [], e.index, e.message
            out.append({"block": item["block"], "lines": lines, "seconds": time.perf_counter() - t0,
                        "error_row": index, "error": error})
        return pa.Table.from_pylist(out, schema=_BLOCK_RESULT)


class _RowWorker(_EngineActor):
    """Works on dataset rows: a ``column`` of JSON text, or every column as a row dict."""

    def __init__(self, mode, engine_kwargs, call_kwargs, principle_set, batch_size, column):
        super().__init__(mode, engine_kwargs, call_kwargs, principle_set, batch_size)
        self.column = column

    def __call__(self, batch):
        if self.column in batch.column_names and _is_text(batch.schema.field(self.column).type):
            lines = batch.column(self.column).to_pylist()
            for i, line in enumerate(lines):
                if line is None:
                    raise clinalign.RowError("batch row %d: %s is null" % (i, self.column))
        else:
            lines = [_dumps(row, "batch row %d" % i) for i, row in enumerate(batch.to_pylist())]
        try:
            out = self.run(lines)
        except _BadRow as e:
            raise clinalign.RowError("%s: %s" % (_row_name(lines[e.index], "batch row %d" % e.index), e.message)) from None
        return pa.table({self.column: pa.array(out, pa.large_string())})


def _is_text(arrow_type):
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _row_name(line, fallback):
    try:
        row = json.loads(line)
        rid = row.get("id", row.get("prompt_id")) if isinstance(row, dict) else None
    except ValueError:
        rid = None
    return fallback if rid is None else "%s (id %s)" % (fallback, json.dumps(rid))


# --- Reading rows --------------------------------------------------------------------------


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if type(value).__name__ == "Decimal":
        return float(value)
    raise TypeError("%s is not JSON" % type(value).__name__)


def _dumps(row, where):
    """JSON text of a row dict read from Arrow columns; top-level nulls (a column this row
    does not have) are left out."""
    try:
        return json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise clinalign.RowError("%s: %s" % (where, e)) from None


def _sources(path):
    """The files of an input: the file itself, or a folder's ``part-<n>`` files in block
    order, else its ``*.jsonl`` / ``*.json`` / ``*.parquet`` files by name."""
    path = Path(path)
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError("%s: no such file or folder" % path)
        return [path]
    parts = sorted((int(m.group(1)), p) for p in path.iterdir() if (m := _PART.match(p.name)))
    if parts:
        return [p for _, p in parts]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".jsonl", ".json", ".parquet") and p.name[0] not in "._")
    if not files:
        raise FileNotFoundError("%s: no part-<n>, *.jsonl or *.parquet files in this folder" % path)
    return files


def _file_rows(path):
    """``(json_text, where)`` of each row of one file: a JSONL line (``where`` = its line
    number) or a Parquet row (its 1-based row number); a Parquet file with a string ``row``
    column is read as that column's JSON text, any other as its columns turned into row
    dicts."""
    if path.suffix == ".parquet":
        f = pq.ParquetFile(path)
        names = f.schema_arrow.names
        text = "row" in names and _is_text(f.schema_arrow.field("row").type)
        n = 0
        for batch in f.iter_batches(batch_size=4096, columns=["row"] if text else None):
            if text:
                for line in batch.column(0).to_pylist():
                    n += 1
                    if line is None:
                        raise clinalign.RowError("%s, row %d: row is null" % (path, n))
                    yield line, n
            else:
                for row in batch.to_pylist():
                    n += 1
                    yield _dumps(row, "%s, row %d" % (path, n)), n
    else:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if line:
                    yield line, number


def _where(sources, source, number):
    path = sources[source]
    return "%s, row %d" % (path, number) if path.suffix == ".parquet" else "%s:%d" % (path, number)


class _Block:
    __slots__ = ("index", "lines", "source", "number", "digest")

    def __init__(self, index):
        self.index, self.lines = index, []
        self.source, self.number = array.array("i"), array.array("q")
        self.digest = hashlib.sha256()


def _blocks(sources, block_rows):
    """The input cut into blocks of ``block_rows`` rows (across files), each with the
    location of every row and a digest of its text."""
    blocks, block = [], None
    for s, path in enumerate(sources):
        for line, number in _file_rows(path):
            if block is None or len(block.lines) == block_rows:
                block = _Block(len(blocks))
                blocks.append(block)
            block.lines.append(line)
            block.source.append(s)
            block.number.append(number)
            block.digest.update(line.encode("utf-8"))
            block.digest.update(b"\n")
    return blocks


def read_rows(path):
    """The rows (dicts) of a JSONL or Parquet file, or of a folder of them (an output folder
    of this module: its parts in block order), in order."""
    for path in _sources(path):
        for line, _ in _file_rows(path):
            yield json.loads(line)


# --- Writing parts -------------------------------------------------------------------------


def _format_of(output, format):
    if format is None:
        format = "parquet" if Path(output).suffix == ".parquet" else "jsonl"
    if format not in ("jsonl", "parquet"):
        raise ValueError("format=%r: use 'jsonl' or 'parquet'" % (format,))
    return format


def _part_path(out, block, format):
    return out / ("part-%05d.%s" % (block, format))


def _write_part(path, lines, format):
    """Writes a part atomically: a temp file in the same folder, then a rename."""
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    try:
        if format == "parquet":
            pq.write_table(pa.table({"row": pa.array(lines, pa.large_string())}), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for line in lines:
                    f.write(line)
                    f.write("\n")
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _existing_parts(out):
    parts = {}
    for p in out.iterdir():
        m = _PART.match(p.name)
        if m:
            parts[int(m.group(1))] = p
    return parts


def _prepare_output(out, run, blocks, resume):
    """Makes the output folder ready and says which blocks are done: with ``resume``, the
    parts of an earlier run with the same settings whose input block is unchanged; parts of
    changed or vanished blocks are removed."""
    if out.exists() and not out.is_dir():
        raise ValueError("%s: the output must be a folder (it gets one part file per block)" % out)
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.name.startswith(".part-") and p.name.endswith(".tmp"):
            p.unlink()  # an interrupted write
    parts = _existing_parts(out)
    manifest = out / MANIFEST
    earlier = None
    if resume and manifest.exists():
        earlier = json.loads(manifest.read_text())
        for key in ("mode", "format", "block_rows", "principle_set", "options"):
            if earlier.get(key) != run[key]:
                raise ValueError(
                    "%s was written with %s=%s, this run has %s=%s: rerun with the same settings, "
                    "with resume=False (--no-resume) to redo every block, or into another folder"
                    % (out, key, json.dumps(earlier.get(key)), key, json.dumps(run[key]))
                )
    elif resume and parts:
        raise ValueError("%s holds part files but no %s: not an output of clinalign.ray (resume=False to overwrite them)" % (out, MANIFEST))
    done = set()
    old_digests = (earlier or {}).get("blocks", [])
    for b, p in parts.items():
        if resume and b < len(blocks) and b < len(old_digests) and old_digests[b] == run["blocks"][b]:
            done.add(b)
        else:
            p.unlink()
    tmp = manifest.with_name(manifest.name + ".tmp")
    tmp.write_text(json.dumps(run, indent=1) + "\n")
    os.replace(tmp, manifest)
    return done


# --- Files ---------------------------------------------------------------------------------


def _run_files(mode, input, output, *, principles, actors, batch_size, block_rows, format, resume,
               max_blocks, call_kwargs, address, engine_options, quiet):
    t0 = time.perf_counter()
    if block_rows < 1 or actors < 1:
        raise ValueError("block_rows and actors must be at least 1")
    engine_kwargs = _engine_kwargs(principles, engine_options)
    principle_set = _driver_engine(engine_kwargs).principle_set
    format = _format_of(output, format)
    out = Path(output)
    sources = _sources(input)
    blocks = _blocks(sources, block_rows)
    options = dict(call_kwargs)
    if mode == "grade":
        options.update(judge=engine_kwargs.get("judge"), judge_model=engine_kwargs.get("judge_model"))
    run = {
        "mode": mode, "format": format, "block_rows": block_rows, "principle_set": principle_set,
        "options": options, "input": [str(p) for p in sources], "rows": sum(len(b.lines) for b in blocks),
        "blocks": [b.digest.hexdigest()[:32] for b in blocks],
    }
    done = _prepare_output(out, run, blocks, resume)
    pending = [b for b in blocks if b.index not in done]
    if max_blocks is not None:
        pending = pending[:max(0, max_blocks)]
    summary = {
        "mode": mode, "input": str(input), "output": str(out), "format": format,
        "principle_set": principle_set, "rows": run["rows"], "blocks": len(blocks),
        "blocks_skipped": len(done), "blocks_done": 0, "blocks_failed": 0,
        "blocks_left": len(blocks) - len(done) - len(pending), "rows_done": 0, "actors": 0,
        "block_seconds": 0.0,
    }
    failures = []
    if pending:
        init(address)
        size = min(actors, len(pending))
        summary["actors"] = size
        by_index = {b.index: b for b in pending}
        ds = ray.data.from_items([{"block": b.index, "lines": b.lines} for b in pending], override_num_blocks=len(pending))
        for b in pending:
            b.lines = None  # the dataset holds them now
        ds = ds.map_batches(
            _BlockWorker,
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=engine_kwargs["threads"],
            fn_constructor_kwargs=dict(mode=mode, engine_kwargs=engine_kwargs, call_kwargs=call_kwargs,
                                       principle_set=principle_set, batch_size=batch_size),
        )
        for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for result in table.to_pylist():
                b = by_index[result["block"]]
                if result["error"] is not None:
                    i = result["error_row"]
                    failures.append("block %d, %s: %s" % (b.index, _where(sources, b.source[i], b.number[i]), result["error"]))
                    summary["blocks_failed"] += 1
                    continue
                _write_part(_part_path(out, b.index, format), result["lines"], format)
                summary["blocks_done"] += 1
                summary["rows_done"] += len(result["lines"])
                summary["block_seconds"] += result["seconds"]
                if not quiet:
                    print("clinalign.ray: block %d: %d rows in %.1f s" % (b.index, len(result["lines"]), result["seconds"]), file=sys.stderr)
    summary["seconds"] = time.perf_counter() - t0
    summary["queries_per_s"] = summary["rows_done"] / summary["seconds"] if summary["seconds"] else 0.0
    if failures:
        error = clinalign.RowError(
            "%d of %d blocks failed; their parts were not written (fix the rows and rerun: only the missing blocks are redone):\n  %s"
            % (len(failures), len(pending), "\n  ".join(sorted(failures, key=_block_order)))
        )
        error.summary = summary
        raise error
    return summary


def _block_order(message):
    return int(message.split(",", 1)[0].split()[1])


_FILE_DOC = """

    ``input``: a JSONL file (one row per line; blank lines are skipped), a Parquet file (a
    string column ``row`` holding each row's JSON text, or else ordinary columns, each row
    becoming a dict of them without its nulls), or a folder of such files (an output folder of
    this module is read as its parts in block order). ``output``: a folder that gets
    ``part-<block>.jsonl`` or ``.parquet`` files (``format``, default from the output's
    suffix: ``.parquet`` gives Parquet parts with a ``row`` column of JSON text, anything else
    JSONL) and a ``.clinalign-run`` record of the run.

    The input is cut into blocks of ``block_rows`` rows; ``actors`` actors (one engine each,
    ``threads=1`` unless given) take a block at a time and call the engine on ``batch_size``
    rows at a time. Each block's part is written atomically when it is done. With ``resume``
    (the default) a rerun skips the blocks whose part exists and whose input rows are
    unchanged; settings that differ from the earlier run's are refused. ``max_blocks`` stops
    after that many blocks (the rest are left for a rerun).

    A row the engine refuses fails its block (no part is written; the other blocks are): at the
    end :class:`clinalign.RowError` names each such row by block and file:line (Parquet: row
    number), and carries the summary as ``.summary``.

    ``engine_options`` are :class:`clinalign.Engine`'s (``plugins``, ``cache_dir``,
    ``plugin_timeout_ms``, ``model``, ``threads``, …); ``principles`` is passed as given, so a
    relative path is resolved on each node. Ray is started locally with every core unless it
    is running or ``address`` (or ``$RAY_ADDRESS``) names a cluster.

    Returns the summary: ``rows``, ``blocks``, ``blocks_done``, ``blocks_skipped``,
    ``blocks_left``, ``rows_done``, ``seconds``, ``queries_per_s`` (rows done per second of
    the whole call), ``block_seconds`` (the actors' time on the blocks), ``actors``,
    ``principle_set``, ``format``.
    """


def _query_job(call, summary):
    """A function that runs ``Engine.<call>`` over files on Ray (no arguments beyond the rows)."""

    def job(input, output, *, principles=None, actors=2, batch_size=DEFAULT_BATCH_SIZE, block_rows=DEFAULT_BLOCK_ROWS,
            format=None, resume=True, max_blocks=None, address=None, quiet=True, **engine_options):
        return _run_files(call, input, output, principles=principles, actors=actors, batch_size=batch_size,
                          block_rows=block_rows, format=format, resume=resume, max_blocks=max_blocks, call_kwargs={},
                          address=address, engine_options=engine_options, quiet=quiet)

    job.__name__ = job.__qualname__ = call
    job.__doc__ = summary + _FILE_DOC
    return job


synthesize = _query_job("synthesize", "Writes each row's rubric (as :meth:`clinalign.Engine.synthesize`) over Ray.")
classify = _query_job("classify", "Labels each row's scenario (as :meth:`clinalign.Engine.classify`) over Ray.")


def grade(input, output, *, judge, response_field=None, principles=None, actors=2, batch_size=8, block_rows=256,
          format=None, resume=True, max_blocks=None, address=None, quiet=True, **engine_options):
    return _run_files("grade", input, output, principles=principles, actors=actors, batch_size=batch_size,
                      block_rows=block_rows, format=format, resume=resume, max_blocks=max_blocks,
                      call_kwargs={"response_field": response_field} if response_field else {},
                      address=address, engine_options=dict(engine_options, judge=judge), quiet=quiet)


grade.__doc__ = (
    "Grades each row's response against its ``rubrics`` (as :meth:`clinalign.Engine.grade`) over Ray, "
    "with ``judge`` (``local:smollm2``, ``local:PATH``, ``openai:URL``, ``openai-logprobs:URL``; "
    "opened once per actor) and ``response_field``. Blocks are smaller by default (256 rows), "
    "as a judge is slow." + _FILE_DOC
)


# --- Datasets ------------------------------------------------------------------------------


def _map_dataset(mode, ds, principles, actors, batch_size, column, call_kwargs, engine_options):
    engine_kwargs = _engine_kwargs(principles, engine_options)
    principle_set = _driver_engine(engine_kwargs).principle_set
    return ds.map_batches(
        _RowWorker,
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=engine_kwargs["threads"],
        udf_modifying_row_count=False,
        fn_constructor_kwargs=dict(mode=mode, engine_kwargs=engine_kwargs, call_kwargs=call_kwargs,
                                   principle_set=principle_set, batch_size=batch_size, column=column),
    )


_DATASET_DOC = """

    ``ds``: a Ray Dataset whose ``column`` (default ``row``) holds each row's JSON text, or
    whose columns are the row's fields (each row becomes a dict of them without its nulls).
    Returns a lazy Dataset with one column, ``column``, of the output rows' JSON text, in
    batches of ``batch_size`` rows on a pool of ``actors`` actors (one engine each,
    ``threads=1`` unless given). A bad row raises :class:`clinalign.RowError` naming the row
    (its place in the batch and its ``id``) when the dataset runs. ``engine_options`` are
    :class:`clinalign.Engine`'s; the driver loads one engine now, so the plugin cache is warm
    before the actors start.
    """


def synthesize_dataset(ds, *, principles=None, actors=2, batch_size=DEFAULT_BATCH_SIZE, column="row", **engine_options):
    return _map_dataset("synthesize", ds, principles, actors, batch_size, column, {}, engine_options)


synthesize_dataset.__doc__ = "Rubric synthesis on a Ray Dataset." + _DATASET_DOC


def classify_dataset(ds, *, principles=None, actors=2, batch_size=DEFAULT_BATCH_SIZE, column="row", **engine_options):
    return _map_dataset("classify", ds, principles, actors, batch_size, column, {}, engine_options)


classify_dataset.__doc__ = "Scenario labels on a Ray Dataset." + _DATASET_DOC


def grade_dataset(ds, *, judge, response_field=None, principles=None, actors=2, batch_size=8, column="row", **engine_options):
    return _map_dataset("grade", ds, principles, actors, batch_size, column,
                        {"response_field": response_field} if response_field else {}, dict(engine_options, judge=judge))


grade_dataset.__doc__ = "Grading on a Ray Dataset, with ``judge`` (opened once per actor)." + _DATASET_DOC


# --- Benchmark -----------------------------------------------------------------------------


def bench(queries=20000, *, actors=(1, 2), passes=3, seed=0, batch_size=DEFAULT_BATCH_SIZE, block_rows=None,
          threads=None, principles=None, address=None, workdir=None, quiet=False, **engine_options):
    """Queries per second of rubric synthesis on ``queries`` generated queries
    (:func:`clinalign.queries.generate_queries`), in the same run: the in-process engine (one
    :class:`clinalign.Engine`, its own thread pool, ``threads`` = every core by default) and
    :func:`synthesize` over Ray with each number of ``actors`` (files in, parts out, actor
    start-up included). Each figure is the median of ``passes`` passes, after one warm-up
    call. ``block_rows`` defaults to a quarter of each actor's share (at least 100), so each
    actor gets several blocks. Returns ``{"machine", "queries", "passes", "in_process",
    "ray": {actors: …}, "ratios"}``."""
    say = (lambda *a: None) if quiet else (lambda msg: print("clinalign.ray bench: " + msg, file=sys.stderr, flush=True))
    actors = [int(a) for a in actors]
    rows = generate_queries(queries, seed)
    lines = [json.dumps(r) for r in rows]
    with tempfile.TemporaryDirectory(prefix="clinalign-bench-", dir=workdir) as tmp:
        tmp = Path(tmp)
        (tmp / "queries.jsonl").write_text("\n".join(lines) + "\n")
        engine = clinalign.Engine(**dict(_engine_kwargs(principles, engine_options), threads=threads))
        engine.synthesize_lines(lines[:200])
        times = []
        for p in range(passes):
            t0 = time.perf_counter()
            out = 0
            for i in range(0, len(lines), 10000):
                out += len(engine.synthesize_lines(lines[i:i + 10000]))
            times.append(time.perf_counter() - t0)
            say("in-process pass %d: %.1f s (%.0f queries/s)" % (p + 1, times[-1], out / times[-1]))
        result = {
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0], "ray": ray.__version__},
            "queries": queries, "passes": passes, "principle_set": engine.principle_set,
            "in_process": _stats(queries, times) | {"threads": threads or os.cpu_count()},
            "ray": {},
        }
        del engine
        init(address)
        for n in actors:
            br = block_rows or max(100, -(-queries // (4 * n)))
            times, busy = [], []
            for p in range(passes):
                s = synthesize(tmp / "queries.jsonl", tmp / ("out-%d-%d" % (n, p)), principles=principles, actors=n,
                               batch_size=batch_size, block_rows=br, resume=False, **engine_options)
                assert s["rows_done"] == queries, s
                times.append(s["seconds"])
                busy.append(s["block_seconds"] / n)
                say("ray, %d actor(s), pass %d: %.1f s (%.0f queries/s)" % (n, p + 1, s["seconds"], queries / s["seconds"]))
            result["ray"][n] = _stats(queries, times) | {
                "block_rows": br,
                "per_actor_queries_per_s": round(queries / n / statistics.median(busy), 1),
            }
    base = result["in_process"]["queries_per_s"]
    result["ratios"] = {"ray_%d_vs_in_process" % n: round(r["queries_per_s"] / base, 2) for n, r in result["ray"].items()}
    if len(actors) > 1:
        lo, hi = min(actors), max(actors)
        result["ratios"]["ray_%d_vs_ray_%d" % (hi, lo)] = round(result["ray"][hi]["queries_per_s"] / result["ray"][lo]["queries_per_s"], 2)
    return result


def _stats(n, times):
    med = statistics.median(times)
    return {"seconds": [round(t, 2) for t in times], "median_seconds": round(med, 2), "queries_per_s": round(n / med, 1)}


# --- Command line --------------------------------------------------------------------------


def _add_engine_args(p, judge=False):
    g = p.add_argument_group("engine")
    g.add_argument("--principles", help="the principles folder (default: as clinalign.Engine)")
    g.add_argument("--plugins", help="the plugin crates' workspace")
    g.add_argument("--cache-dir", help="where built and compiled plugins are cached")
    g.add_argument("--plugin-timeout-ms", type=int)
    g.add_argument("--strict", action="store_true", default=None, help="a fresh sandbox per call")
    g.add_argument("--model", help="language model for model-backed principles and classifiers")
    g.add_argument("--classifier", choices=["rules", "model", "auto"])
    g.add_argument("--threads", type=int, help="engine threads per actor (default 1)")
    g.add_argument("--only", action="append", help="load only this principle id (repeatable)")
    if judge:
        g.add_argument("--judge", required=True, help="local:smollm2, local:PATH, openai:URL or openai-logprobs:URL")
        g.add_argument("--judge-model", help="model name sent to an OpenAI-compatible judge")
        g.add_argument("--concurrency", type=int, help="requests in flight to a remote judge, per actor")
        g.add_argument("--response-field", help="dotted field holding the response")


def _engine_args(a):
    names = ["plugins", "cache_dir", "plugin_timeout_ms", "strict", "model", "classifier", "threads", "only",
             "judge_model", "concurrency"]
    return {n: getattr(a, n) for n in names if getattr(a, n, None) is not None}


def main(argv=None):
    """``python -m clinalign.ray synthesize|classify|grade IN OUT …`` and ``… bench``."""
    parser = argparse.ArgumentParser(prog="python -m clinalign.ray", description="ClinAlign over Ray: synthesize, classify or grade files, or benchmark.")
    parser.add_argument("--address", help="a Ray cluster to join (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (default: every core)")
    sub = parser.add_subparsers(dest="command", required=True)
    for mode in _MODES:
        p = sub.add_parser(mode, help=getattr(sys.modules[__name__], mode).__doc__.split("\n")[0])
        p.add_argument("input", help="JSONL or Parquet file, or a folder of them")
        p.add_argument("output", help="output folder (part-<block> files; .parquet suffix: Parquet)")
        p.add_argument("--actors", type=int, default=2)
        p.add_argument("--batch-size", type=int, default=8 if mode == "grade" else DEFAULT_BATCH_SIZE)
        p.add_argument("--block-rows", type=int, default=256 if mode == "grade" else DEFAULT_BLOCK_ROWS)
        p.add_argument("--format", choices=["jsonl", "parquet"])
        p.add_argument("--no-resume", action="store_true", help="redo every block")
        p.add_argument("--max-blocks", type=int, help="stop after this many blocks")
        p.add_argument("--quiet", action="store_true", help="no line per block")
        _add_engine_args(p, judge=mode == "grade")
    p = sub.add_parser("bench", help="queries/s: in-process engine vs Ray with 1, 2, … actors")
    p.add_argument("--queries", type=int, default=20000)
    p.add_argument("--actors", default="1,2", help="comma-separated actor counts (default 1,2)")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--block-rows", type=int)
    p.add_argument("--json", help="also write the result to this file")
    _add_engine_args(p)
    a = parser.parse_args(argv)

    try:
        init(a.address, num_cpus=a.num_cpus)
        if a.command == "bench":
            options = _engine_args(a)
            threads = options.pop("threads", None)
            result = bench(a.queries, actors=[int(x) for x in a.actors.split(",")], passes=a.passes, seed=a.seed,
                           batch_size=a.batch_size, block_rows=a.block_rows, threads=threads, principles=a.principles, **options)
            _print_bench(result)
            text = json.dumps(result, indent=1)
            if a.json:
                Path(a.json).write_text(text + "\n")
            print(text)
            return 0
        fn = getattr(sys.modules[__name__], a.command)
        kwargs = dict(principles=a.principles, actors=a.actors, batch_size=a.batch_size, block_rows=a.block_rows,
                      format=a.format, resume=not a.no_resume, max_blocks=a.max_blocks, quiet=a.quiet, **_engine_args(a))
        if a.command == "grade":
            kwargs.update(judge=a.judge, response_field=a.response_field)
        summary = fn(a.input, a.output, **kwargs)
    except (clinalign.ClinAlignError, ValueError, FileNotFoundError) as e:
        print("clinalign.ray: %s" % e, file=sys.stderr)
        summary = getattr(e, "summary", None)
        if summary:
            print(json.dumps(summary))
        return 1
    print("clinalign.ray: %s: %d rows in %d blocks: %d done, %d skipped, %d left; %.1f s, %.0f queries/s"
          % (summary["mode"], summary["rows"], summary["blocks"], summary["blocks_done"], summary["blocks_skipped"],
             summary["blocks_left"], summary["seconds"], summary["queries_per_s"]), file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _print_bench(r):
    out = sys.stderr
    print("\n%d queries, %d cores, median of %d passes" % (r["queries"], r["machine"]["cores"], r["passes"]), file=out)
    ip = r["in_process"]
    print("  in-process engine (%d threads): %8.1f queries/s  (%.1f s)" % (ip["threads"], ip["queries_per_s"], ip["median_seconds"]), file=out)
    for n, s in r["ray"].items():
        print("  ray, %d actor(s)               : %8.1f queries/s  (%.1f s; %.1f per actor while busy)"
              % (n, s["queries_per_s"], s["median_seconds"], s["per_actor_queries_per_s"]), file=out)
    for k, v in r["ratios"].items():
        print("  %s: %.2f" % (k, v), file=out)


if __name__ == "__main__":
    # Run as the module clinalign.ray (not __main__), so Ray pickles the actor classes by
    # reference to the installed package.
    from clinalign.ray import main as _main

    sys.exit(_main())
