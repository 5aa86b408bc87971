#!/usr/bin/env bash
# Install Debian's chromium for the browser tests, unless /usr/bin/chromium is already there.
# Playwright drives this binary (never its own download, which cannot work offline).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-chromium: $CHROMIUM is missing and we are not root (no sudo either)." >&2
  echo "install-chromium: run 'apt-get install chromium' as root to run the browser tests." >&2
  # Outside CI the browser tests then skip (saying why); in CI they must run.
  [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]] && exit 1
  exit 0
fi

echo "install-chromium: installing Debian's chromium (apt-get) ..."
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o DPkg::Lock::Timeout=300)
"${as_root[@]}" apt-get "${apt_opts[@]}" update
# Fonts too: without them every glyph in a screenshot is a box.
"${as_root[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends \
  chromium fonts-liberation fonts-dejavu-core fonts-noto-color-emoji

if [[ ! -x "$CHROMIUM" ]]; then
  echo "install-chromium: apt-get finished but $CHROMIUM is still missing." >&2
  exit 1
fi
"$CHROMIUM" --version
