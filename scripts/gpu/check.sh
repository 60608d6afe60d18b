#!/usr/bin/env bash
# Every GPU check in one call of the device tool (see scripts/gpu/bundle.sh, which prepares
# gpu-bundle/ here and rehearses this script). Writes its results under $OUT:
#   nvidia-smi.txt, probe.txt, kernels.txt + kernels.json (each kernel vs its CPU reference),
#   memcheck.txt (the kernel tests under compute-sanitizer, where the machine has it),
#   summary.txt (one line per step).
# --rehearse: on a machine without a GPU, run every step that can run and skip the rest.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${CLINALIGN_BIN:-$here/clinalign}
out=${OUT:-$here/out}
mkdir -p "$out"
export CLINALIGN_KERNEL_CACHE=${CLINALIGN_KERNEL_CACHE:-$here/kernels}
rehearse=${1:-}
summary="$out/summary.txt"
: >"$summary"
step() { echo "$1: $2" | tee -a "$summary"; }
deadline() { timeout --kill-after=5 "$@"; }

if command -v nvidia-smi >/dev/null; then
    deadline 30 nvidia-smi >"$out/nvidia-smi.txt" 2>&1 && step nvidia-smi ok || step nvidia-smi "failed (see nvidia-smi.txt)"
else
    step nvidia-smi "not on this machine"
fi
deadline 60 "$bin" kernels probe >"$out/probe.txt" 2>&1
step probe "$(head -1 "$out/probe.txt")"

require=--require-gpu
[ "$rehearse" = --rehearse ] && require=
if deadline 240 "$bin" kernels test $require --json "$out/kernels.json" >"$out/kernels.txt" 2>&1; then
    step kernels "$(tail -1 "$out/kernels.txt")"
else
    step kernels "FAILED (rc $?): $(tail -1 "$out/kernels.txt")"
fi

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
if [ -n "$sanitizer" ] && grep -q '^ok: ' "$out/kernels.txt"; then
    deadline 240 "$sanitizer" --tool memcheck --error-exitcode 3 "$bin" kernels test --require-gpu >"$out/memcheck.txt" 2>&1
    rc=$?
    step memcheck "rc $rc: $(grep -E 'ERROR SUMMARY|errors' "$out/memcheck.txt" | tail -1)"
else
    step memcheck "skipped (${sanitizer:-no compute-sanitizer}; kernels: $(tail -1 "$out/kernels.txt"))"
fi
# The forward pass on the GPU (kernels only) against the CPU backend, on the repository's tiny
# random Qwen3 and Qwen3-MoE fixtures (they travel with the working tree).
for m in tiny-qwen3 tiny-qwen3-moe; do
    dir=${FIXTURES:-tests/fixtures/models}/$m
    if deadline 120 "$bin" kernels forward-check $require --model "$dir" --json "$out/forward-$m.json" >"$out/forward-$m.txt" 2>&1; then
        step "forward $m" "$(tail -1 "$out/forward-$m.txt")"
    else
        step "forward $m" "FAILED (rc $?): $(tail -2 "$out/forward-$m.txt" | tr '\n' ' ')"
    fi
done
step "not yet" "MoE layer and judge benchmarks (the CUDA judge and a benchmark command do not exist yet)"
cat "$summary"
