#!/usr/bin/env bash
# Install the real audio the Whisper tests and lessons use (Debian packages; needs root or sudo,
# skipped otherwise, and then the tests that need the clips are skipped):
#   pocketsphinx-testdata  1.8 MB: five LibriVox clips (public domain, 16 kHz) with their
#                          transcription, in /usr/share/pocketsphinx/test/data/librivox/
#   espeak-ng              a speech synthesiser (22.05 kHz voices in many languages) for lessons
#                          that make their own utterances
# It does nothing if both are already there.
set -euo pipefail

CLIPS=/usr/share/pocketsphinx/test/data/librivox/transcription
if [ -f "$CLIPS" ] && command -v espeak-ng >/dev/null 2>&1; then
    echo "setup_audio: pocketsphinx-testdata and espeak-ng already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup_audio: installing pocketsphinx-testdata and espeak-ng needs root; run as root or install them yourself." >&2
    echo "setup_audio: without them the tests on real speech are skipped." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package lists do not know the packages yet (setup_browser.sh may have run it).
if ! apt-cache show pocketsphinx-testdata >/dev/null 2>&1; then
    $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends pocketsphinx-testdata espeak-ng
echo "setup_audio: $(ls /usr/share/pocketsphinx/test/data/librivox/*.wav | wc -l) LibriVox clips, $(espeak-ng --version | head -1)"
