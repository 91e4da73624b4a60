#!/usr/bin/env bash
# Install what the real-browser test (tests/test_browser.py, marked `browser`) needs:
# Debian's Chromium and its driver. Playwright itself comes with the [dev] extra and drives
# this Chromium through executable_path=shutil.which("chromium").
#
# Never run `playwright install`: it downloads browsers from a CDN, which these machines
# cannot reach. Needs root (or sudo) for apt-get; it does nothing if chromium is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "setup_browser: $(chromium --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup_browser: installing chromium needs root; run as root or install 'chromium chromium-driver' yourself." >&2
    echo "setup_browser: without it the browser test is skipped." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium chromium-driver
echo "setup_browser: $(chromium --version 2>/dev/null || echo 'chromium installed')"
