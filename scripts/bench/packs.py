"""Strict (default) vs trusted pack principles, and no pack, in one run: synthesis of queries
that reach the pack's principles (half antibiotic, half sunburn) and of the bundled queries.

    python scripts/bench/packs.py REPO PACK_DIR     (with the clinalign package installed)
"""
import json, statistics, sys, time
import clinalign

repo, pack = sys.argv[1], sys.argv[2]
hit = [{"id": f"a{i}", "messages": [{"role": "user", "content": f"I feel better after {i % 5 + 2} days of amoxicillin. Can I stop taking it?"}]} for i in range(500)]
hit += [{"id": f"s{i}", "messages": [{"role": "user", "content": f"Got sunburnt on day {i % 7 + 1} of my holiday, any tips for next time?"}]} for i in range(500)]
bundled = [json.loads(l) for l in open(f"{repo}/data/queries/liveqa_medical_test_104.jsonl")] * 10
engines = {
    "no pack": clinalign.Engine(f"{repo}/principles", threads=1),
    "pack, strict (default)": clinalign.Engine(f"{repo}/principles", packs=[pack], threads=1),
    "pack, --trust-packs": clinalign.Engine(f"{repo}/principles", packs=[pack], trust_packs=True, threads=1),
}
out = {}
for name, rows in [("pack-hitting queries (1000)", hit), ("bundled LiveQA queries (1040)", bundled)]:
    for ename, e in engines.items():
        e.synthesize(rows[:50])
        runs = []
        for _ in range(5):
            t = time.perf_counter(); e.synthesize(rows); runs.append(time.perf_counter() - t)
        med = statistics.median(runs)
        out[(name, ename)] = med
        print(f"{name:32} {ename:24} median {med*1e3/len(rows):7.3f} ms/query  ({len(rows)/med:7.0f} q/s, 1 thread)")
for name in ["pack-hitting queries (1000)", "bundled LiveQA queries (1040)"]:
    s, t, n = out[(name, "pack, strict (default)")], out[(name, "pack, --trust-packs")], out[(name, "no pack")]
    print(f"{name}: strict/trusted {s/t:.2f}x, trusted/no pack {t/n:.2f}x")
