#!/usr/bin/env bash
# Installs the headless browser the end-to-end tests of the playground and the grading report
# drive: Debian's Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver).
# Idempotent; exits 0 when both are there afterwards, 1 (saying why) when they cannot be
# installed, in which case the browser tests say SKIPPED with the reason.
set -uo pipefail

have() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }

if have; then
    echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1); $(/usr/bin/chromedriver --version 2>/dev/null | head -1)"
    exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "browser: not installed: installing Debian's chromium needs root (or password-less sudo)"
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null; then
    echo "browser: not installed: this machine has no apt-get (install chromium and chromedriver yourself)"
    exit 1
fi

echo "browser: installing Debian's chromium and chromium-driver (apt-get)…"
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation fonts-dejavu-core >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    $sudo apt-get update -q >>"$log" 2>&1
    $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation fonts-dejavu-core >>"$log" 2>&1
fi
if have; then
    echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1); $(/usr/bin/chromedriver --version 2>/dev/null | head -1)"
    rm -f "$log"
    exit 0
fi
echo "browser: not installed: apt-get failed; its last lines:"
tail -5 "$log"
rm -f "$log"
exit 1
