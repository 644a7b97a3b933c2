#!/usr/bin/env bash
# Debian packages the tests need: Chromium and its WebDriver for the dashboard's end-to-end
# test (tests/test_browser.py). Installed only when missing; needs root (or sudo).
# Set LINEWATCH_SKIP_BROWSER=1 to run the tests without them (the browser test is then skipped).
set -euo pipefail
if [[ "${LINEWATCH_SKIP_BROWSER:-}" == "1" ]]; then
    exit 0
fi
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
else
    echo "system-deps: ${missing[*]} missing and no root or sudo to install them;" >&2
    echo "  install them (apt-get install chromium chromium-driver) or set LINEWATCH_SKIP_BROWSER=1" >&2
    exit 1
fi
echo "system-deps: installing ${missing[*]} (Debian) for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
