#!/usr/bin/env python3
"""llama.cpp peer for `clinalign bench score` (needs `pip install llama-cpp-python numpy`).

Reads the JSON that `clinalign bench score` writes (model path, thread count, the token ids of
every judge prompt and how many leading tokens the prompts of one response share) and judges
the same prompts with llama.cpp in two ways:

  full_prompt:  every criterion's whole prompt evaluated from an empty cache, as HealthBench
                graders do (one request per criterion);
  prefix_reuse: the response's shared prefix evaluated once, then each criterion's remaining
                tokens evaluated after truncating the cache back to the prefix.

Prints JSON with tokens/s and criteria/s of both, and p_met from the yes/no logits.
LLAMA_FLASH_ATTN=1 turns on llama.cpp's flash attention.
"""
import json
import math
import os
import sys
import time

import numpy as np
from llama_cpp import Llama


def p_met(logits, yes, no):
    m = float(np.max(logits))
    lse = m + math.log(float(np.sum(np.exp(logits - m))))
    ly = [float(logits[i]) - lse for i in yes]
    ln = [float(logits[i]) - lse for i in no]
    sy = math.log(sum(math.exp(v) for v in ly))
    sn = math.log(sum(math.exp(v) for v in ln))
    mm = max(sy, sn)
    return math.exp(sy - mm) / (math.exp(sy - mm) + math.exp(sn - mm))


def main():
    spec = json.load(open(sys.argv[1]))
    longest = max(len(p) for c in spec["cases"] for p in c["prompts"])
    llm = Llama(
        model_path=spec["model"],
        n_ctx=max(2048, longest + 16),
        n_batch=512,
        n_threads=spec["threads"],
        n_threads_batch=spec["threads"],
        logits_all=False,
        verbose=False,
        flash_attn=os.environ.get("LLAMA_FLASH_ATTN", "0") == "1",
    )
    yes, no = spec["yes"], spec["no"]
    limit = spec.get("each_limit")

    n_vocab = llm.n_vocab()

    def last_logits():
        # Logits of the last token of the last decoded batch (llama.cpp keeps only those
        # when logits_all is off).
        return np.array(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)), dtype=np.float32)

    # Warm-up.
    llm.reset()
    llm.eval(spec["cases"][0]["prompts"][0][:64])

    tokens = 0
    count = 0
    ps_full = []
    t0 = time.perf_counter()
    for c in spec["cases"]:
        for p in c["prompts"][: limit if limit is not None else None]:
            llm.reset()
            llm.eval(p)
            ps_full.append(p_met(last_logits(), yes, no))
            tokens += len(p)
            count += 1
    full_s = time.perf_counter() - t0

    ps_reuse = []
    reuse_tokens = 0
    n_criteria = 0
    t0 = time.perf_counter()
    for c in spec["cases"]:
        shared = c["shared"]
        llm.reset()
        if shared:
            llm.eval(c["prompts"][0][:shared])
        reuse_tokens += shared
        for p in c["prompts"]:
            llm.n_tokens = shared
            llm.eval(p[shared:])
            ps_reuse.append(p_met(last_logits(), yes, no))
            reuse_tokens += len(p) - shared
            n_criteria += 1
    reuse_s = time.perf_counter() - t0

    print(json.dumps({
        "threads": spec["threads"],
        "flash_attn": os.environ.get("LLAMA_FLASH_ATTN", "0") == "1",
        "full_prompt": {
            "criteria": count,
            "seconds": round(full_s, 2),
            "prompt_tokens": tokens,
            "prompt_tokens_per_s": round(tokens / full_s, 2),
            "criteria_per_s": round(count / full_s, 2),
        },
        "prefix_reuse": {
            "criteria": n_criteria,
            "seconds": round(reuse_s, 2),
            "tokens": reuse_tokens,
            "criteria_per_s": round(n_criteria / reuse_s, 2),
        },
        "p_met": ps_reuse,
    }))


if __name__ == "__main__":
    main()
