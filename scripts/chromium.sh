#!/usr/bin/env bash
# Make a headless browser available for the report test (it opens report.html and checks every picture loads):
# use one on PATH, else (as root, with apt) install Debian's chromium. Exit 1, saying why, when neither works.
set -uo pipefail
for name in chromium chromium-browser google-chrome; do
  command -v "$name" >/dev/null 2>&1 && exit 0
done
[ "$(id -u)" = 0 ] || { echo "chromium: not installed, and installing it needs root"; exit 1; }
command -v apt-get >/dev/null 2>&1 || { echo "chromium: not installed, and no apt-get to install it"; exit 1; }
echo "chromium: installing Debian's chromium package (once)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/tmp/tao-apt-chromium.log 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/tmp/tao-apt-chromium.log 2>&1; } \
  || { echo "chromium: apt-get install chromium failed (see /tmp/tao-apt-chromium.log)"; exit 1; }
