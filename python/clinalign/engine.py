"""The engine on plain dicts: :class:`Engine`, :class:`Watch` and :func:`score`."""

import json

from . import _native

__all__ = ["Engine", "Watch", "score"]


def _lines(rows, what):
    """JSON text of one row (a dict) or of each row of a list; whether it was one."""
    if isinstance(rows, dict):
        return [json.dumps(rows)], True
    if isinstance(rows, (str, bytes)):
        raise TypeError("%s: expected a dict or a list of dicts, not %s" % (what, type(rows).__name__))
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _native.RowError("row %d: expected a dict, not %s" % (i, type(row).__name__))
        out.append(json.dumps(row))
    return out, False


def _rows(lines, single):
    out = [json.loads(line) for line in lines]
    return out[0] if single else out


def score(rows, *, seed=0):
    """HealthBench metrics of graded rows, exactly as simple-evals computes them.

    ``rows``: dicts whose ``rubrics`` items carry ``criteria_met`` (bool) or ``p_met`` (0..1),
    optionally ``example_tags``; or meta rows with physicians' ``binary_labels``. Returns what
    ``clinalign score`` prints: ``{"score", "metrics", "n_examples"}`` and/or ``{"meta": …}``.
    Bootstrap standard deviations use 1000 resamples seeded by ``seed``.
    """
    lines, _ = _lines(rows, "rows")
    return json.loads(_native.score(lines, seed))


class Watch:
    """Hot reload of an engine's principle sources, until :meth:`stop` (or the ``with`` block
    ends). Each change builds and self-tests a whole new set in the background; it goes live
    only if it passes (see :meth:`Engine.last_reload`)."""

    def __init__(self, native):
        self._native = native

    @property
    def running(self):
        """Whether the watch is still running."""
        return self._native.running

    def stop(self):
        """Stops watching (safe to call twice)."""
        self._native.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class Engine:
    """The ClinAlign engine: loads a principle set, labels queries, writes rubrics, grades.

    Args:
        principles: the principles folder (``dimensions.toml`` and ``<dimension>/*.toml``).
            Default: ``$CLINALIGN_PRINCIPLES``, else ``./principles``, else the repository the
            package was built from.
        plugins: the plugin crates' workspace (default: ``plugins/`` beside ``principles``).
        plugin_timeout_ms: the time one principle may take on one query (default 50).
        strict: a fresh sandbox per call (for principle sets you do not trust).
        model: the language model for principles that generate or score options, and for the
            model classifiers: ``local:smollm2``, ``local:PATH`` or ``openai:URL[#MODEL]``.
        classifier: ``"rules"`` (default), ``"model"`` or ``"auto"`` (the latter two need
            ``model``).
        judge: the default judge of :meth:`grade` and :meth:`reward`: ``local:smollm2``,
            ``local:PATH``, ``openai:URL`` or ``openai-logprobs:URL``.
        judge_model: the model name sent to an OpenAI-compatible judge.
        concurrency: requests in flight to a remote judge.
        threads: worker threads of this engine (default: one per core); 1 in a Ray actor.
        cache_dir: where built and compiled plugins are cached (default
            ``$CLINALIGN_CACHE_DIR`` or ``~/.cache/clinalign``).
        only: load only these principle ids.
        require_all: refuse the whole set when a principle fails to load or self-test
            (default: such principles are left out, and :attr:`left_out` says why).
        packs: principle packs composed with ``principles``: folders with a ``pack.toml`` or
            built ``.pack`` files (see docs/packs.md). An id already taken, or a label outside
            the vocabulary, raises :class:`clinalign.PrincipleSetError` naming both files.
        trust_packs: run packs' principles with warm instances (default: a fresh instance
            per call).
        allow_build_scripts: build packs whose crates have build scripts or procedural
            macros, which run natively while compiling (default: refused).

    Loading builds the plugins on first use (then caches them) and self-tests every
    principle; a set that does not load (or, with ``require_all``, any principle that
    fails) raises :class:`clinalign.PrincipleSetError` naming
    the file and line. All methods release the GIL while the engine works.
    """

    def __init__(
        self,
        principles=None,
        *,
        plugins=None,
        plugin_timeout_ms=None,
        strict=False,
        model=None,
        classifier="rules",
        judge=None,
        judge_model="gpt-4.1",
        concurrency=8,
        threads=None,
        cache_dir=None,
        only=None,
        require_all=False,
        packs=None,
        trust_packs=False,
        allow_build_scripts=False,
    ):
        self._native = _native.NativeEngine(
            principles=None if principles is None else str(principles),
            plugins=None if plugins is None else str(plugins),
            plugin_timeout_ms=plugin_timeout_ms,
            strict=strict,
            model=model,
            classifier=classifier,
            judge=judge,
            judge_model=judge_model,
            concurrency=concurrency,
            threads=threads,
            cache_dir=None if cache_dir is None else str(cache_dir),
            only=None if only is None else list(only),
            require_all=require_all,
            packs=None if packs is None else [str(p) for p in packs],
            trust_packs=trust_packs,
            allow_build_scripts=allow_build_scripts,
        )

    def __repr__(self):
        return "Engine(principles=%r, principle_set=%r)" % (str(self.principles_dir), self.principle_set)

    @property
    def principle_set(self):
        """The live principle set's content hash (every output names it)."""
        return self._native.principle_set

    @property
    def principles_dir(self):
        """The principles folder this engine loads."""
        return self._native.principles_dir

    @property
    def principles(self):
        """The live set's principles: ``[{id, version, dimension, title, statement,
        applies_when, path, pack, strict}]`` (``pack`` is ``"<name>@<version>"`` for a
        principle from a pack, else ``None``; ``strict``: a fresh instance per call)."""
        return json.loads(self._native.principles_json())

    @property
    def left_out(self):
        """What the live set left out: ``{"principles": [...], "plugins": [...]}`` with why."""
        return json.loads(self._native.left_out_json())

    def classify(self, rows):
        """Labels each row on the four dimensions: adds ``scenario`` (``{dimension: {value,
        confidence}}``); labels a row already has are kept."""
        lines, single = _lines(rows, "rows")
        return _rows(self._native.classify(lines), single)

    def synthesize(self, rows):
        """Writes each row's rubric: adds ``scenario``, ``rubrics`` (HealthBench items whose
        tags hold ``axis:*``, ``dimension:*`` and ``principle:<id>@<version>``) and
        ``principle_set``; a row's own ``rubrics`` move to ``reference_rubrics``."""
        lines, single = _lines(rows, "rows")
        return _rows(self._native.synthesize(lines), single)

    def synthesize_lines(self, lines):
        """:meth:`synthesize` on JSON text (one object per string), for pipelines that
        already hold JSONL; returns JSON text."""
        return self._native.synthesize(list(lines))

    def classify_lines(self, lines):
        """:meth:`classify` on JSON text, returning JSON text."""
        return self._native.classify(list(lines))

    def grade(self, rows, *, judge=None, response_field=None):
        """Grades each row's response against its ``rubrics``: each item gets
        ``criteria_met`` (and ``p_met`` from a log-prob judge), the row a ``grade`` =
        ``{judge, score, soft_score}``. The response is ``completion``, ``response``,
        ``ideal_completions_data.ideal_completion`` or a final assistant turn, or the dotted
        ``response_field``. ``judge`` overrides the engine's judge for this call."""
        lines, single = _lines(rows, "rows")
        return _rows(self._native.grade(lines, judge=judge, response_field=response_field), single)

    def grade_lines(self, lines, *, judge=None, response_field=None):
        """:meth:`grade` on JSON text, returning JSON text."""
        return self._native.grade(list(lines), judge=judge, response_field=response_field)

    def reward(self, samples, *, judge=None, detail=False):
        """RL rewards: for each sample ``{conversation | messages | prompt, response |
        completion, rubric?, scenario?}`` the soft HealthBench score (Σ points·p_met / Σ
        positive points, clipped to 0..1) against the sample's rubric, or the one the
        principles write for its conversation. ``completion`` may be TRL's list of turns.

        Returns a float per sample (one float for one dict); with ``detail=True`` a dict per
        sample: ``{"reward", "score" (hard, from criteria_met), "rubrics" (graded items)}``.
        """
        lines, single = _lines(samples, "samples")
        out = self._native.reward(lines, judge=judge)
        if detail:
            res = [{"reward": r, "score": s, "rubrics": json.loads(items)} for r, s, items in out]
        else:
            res = [r for r, _, _ in out]
        return res[0] if single else res

    def score(self, rows, *, seed=0):
        """HealthBench metrics of graded rows; see :func:`clinalign.score`."""
        return score(rows, seed=seed)

    def reload(self):
        """Rebuilds and self-tests the principle set now; returns the reload report
        (``outcome.status`` is ``live``, ``unchanged`` or ``rejected``, with the reason)."""
        return json.loads(self._native.reload())

    def last_reload(self):
        """The last reload's report (or ``None`` before the first)."""
        text = self._native.last_reload()
        return None if text is None else json.loads(text)

    def watch(self):
        """Hot reload: watches the principles and plugins folders until the returned
        :class:`Watch` is stopped; usable as a context manager."""
        return Watch(self._native.watch())
