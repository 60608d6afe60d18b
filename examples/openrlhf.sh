#!/usr/bin/env bash
# OpenRLHF with `clinalign serve` as the remote reward model.
#
# 1. Start the server (loopback; rewards need a judge):
#      clinalign serve --judge local:smollm2 --addr 127.0.0.1:8077
# 2. Point OpenRLHF at /get_reward. It POSTs {"query", "prompts", "labels"} for each sample
#    and reads "rewards", "scores" and "extra_logs". With the chat template applied, the
#    server recovers the conversation from the ChatML or Llama 3 transcript; a label holding a
#    row id (rows given to the server with --rows FILE) or the conversation as JSON is exact.
#
# The reward flag is --reward.remote_url from OpenRLHF 0.10.2 on, --remote_rm_url before.
# Your model, data and batch flags follow as extra arguments; for example, with 0.9.x:
#   --pretrain Qwen/Qwen3-30B-A3B --prompt_data your/health-prompts --input_key prompt \
#   --label_key prompt_id --apply_chat_template --n_samples_per_prompt 8
set -euo pipefail
URL=${CLINALIGN_URL:-http://127.0.0.1:8077}
REWARD_FLAG=${OPENRLHF_REWARD_FLAG:---reward.remote_url}

curl -fsS "$URL/healthz" >/dev/null || { echo "no clinalign server at $URL (start: clinalign serve --judge local:smollm2)" >&2; exit 1; }
exec python3 -m openrlhf.cli.train_ppo_ray "$REWARD_FLAG" "$URL/get_reward" "$@"
