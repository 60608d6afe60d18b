#!/usr/bin/env bash
# Prepares what the GPU machine needs, here (it has no Rust toolchain and no network):
#   gpu-bundle/clinalign   the release binary, stripped (the device tool carries ≤ 64 MiB)
#   gpu-bundle/kernels/    every kernel compiled for sm_90 by NVRTC (CUBIN + ptxas report),
#                          the cache `clinalign kernels test` loads from
#   gpu-bundle/check.sh    the one script to run there
# Then, with the device tool: run(command="bash gpu-bundle/check.sh", carry=["gpu-bundle"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=${GPU_ARCH:-sm_90}
cargo build --release -p clinalign-cli
rm -rf gpu-bundle
mkdir -p gpu-bundle
objcopy --strip-all target/release/clinalign gpu-bundle/clinalign
./gpu-bundle/clinalign kernels check --fetch --arch "$arch" --cache gpu-bundle/kernels --json gpu-bundle/kernels-"$arch".json
cp scripts/gpu/check.sh gpu-bundle/check.sh
# Rehearse the script here: without a GPU every step must say why it skips, and exit 0.
OUT=$(mktemp -d) bash gpu-bundle/check.sh --rehearse
size=$(du -sb gpu-bundle | cut -f1)
echo "gpu-bundle: $((size / 1048576)) MiB (the device tool carries at most 64 MiB)"
[ "$size" -lt $((64 * 1048576)) ] || { echo "error: gpu-bundle is too large to carry"; exit 1; }
