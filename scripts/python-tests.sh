#!/usr/bin/env bash
# The Python package's tests, as `cargo test --workspace` runs them (tests/python.rs) and as
# anyone can by hand: a virtual environment with the test tools (pinned, from PyPI), the
# wheel built from this checkout with maturin and installed into it, then pytest on
# tests/python.
#
#   bash scripts/python-tests.sh [PYTEST ARGS…]
#
# The environment is kept at $CLINALIGN_PY_ENV (default target/python-env) and made once;
# the wheel is rebuilt every run (cargo only recompiles what changed). The wheel is built in
# the dev profile here, sharing the test build's compiled dependencies; `pip install .`
# builds the release one.
set -euo pipefail
cd "$(dirname "$0")/.."

env_dir=${CLINALIGN_PY_ENV:-target/python-env}
# What the tests need, pinned (the versions docs/python.md was checked with).
requirements=(maturin==1.16.0 pytest==8.4.2 "ray[data]==2.60.0")
stamp="$env_dir/.requirements"

if [ ! -x "$env_dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
    echo "python: making $env_dir with ${requirements[*]} (from PyPI; once)"
    rm -rf "$env_dir.tmp"
    python3 -m venv "$env_dir.tmp"
    "$env_dir.tmp/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    echo "${requirements[*]}" > "$env_dir.tmp/.requirements"
    rm -rf "$env_dir"
    mv "$env_dir.tmp" "$env_dir"
fi
py="$(cd "$env_dir" && pwd)/bin/python"

wheels=target/wheels
rm -f "$wheels"/clinalign-*.whl
echo "python: building the wheel (maturin build --profile dev)"
"$env_dir/bin/maturin" build --quiet --profile dev --out "$wheels" >/dev/null
wheel=$(ls "$wheels"/clinalign-*.whl)
echo "python: installing $(basename "$wheel")"
"$py" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"

# Run from tests/python so that the checkout's python/ folder is not what `import clinalign`
# finds: the tests use the installed wheel.
export RAY_AUTH_MODE=disabled
cd tests/python
exec "$py" -m pytest -p no:cacheprovider "$@"
