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
"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "the browser test (or set LINEWATCH_SKIP_BROWSER=1)" "${missing[@]}"
