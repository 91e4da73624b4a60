#!/usr/bin/env bash
# Install what the real-browser tests (tests/test_browser*.py, marked `browser`) need:
# Debian's Chromium and its driver, and an emoji font (the ✅ / ❌ the exercise checkers print
# and lesson 01's 🐍 are drawn from it; without one they show as empty boxes). Playwright
# itself comes with the [dev] extra and drives this Chromium through
# executable_path=shutil.which("chromium").
#
# Never run `playwright install`: it downloads browsers from a CDN, which these machines
# cannot reach. Needs root (or sudo) for apt-get; it does nothing if everything is there.
set -euo pipefail

PACKAGES=()
command -v chromium >/dev/null 2>&1 || PACKAGES+=(chromium chromium-driver)
if command -v fc-list >/dev/null 2>&1 && fc-list | grep -qi "emoji"; then
    :
else
    PACKAGES+=(fonts-noto-color-emoji)
fi
if [ "${#PACKAGES[@]}" -eq 0 ]; then
    echo "setup_browser: $(chromium --version 2>/dev/null || echo chromium) and an emoji font already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup_browser: installing ${PACKAGES[*]} needs root; run as root or install them yourself." >&2
    echo "setup_browser: without chromium the browser tests are skipped." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y "${PACKAGES[@]}"
echo "setup_browser: $(chromium --version 2>/dev/null || echo 'chromium installed'); installed ${PACKAGES[*]}"
