#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium (or $CHROMIUM) for the
# survey service's browser tests. Idempotent: exits 0 at once when it is
# there; otherwise installs the `chromium` package with apt-get, through
# sudo only when not root. Fails with the reason otherwise. Used by
# `make test` and CI.
set -euo pipefail

bin="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then exit 0; fi
if [ "$bin" != "/usr/bin/chromium" ]; then
	echo "CHROMIUM=$bin is not an executable; unset it to use Debian's /usr/bin/chromium" >&2; exit 1
fi
if ! command -v apt-get >/dev/null; then
	echo "Chromium is missing and apt-get is not available: install Chromium and set CHROMIUM to its path" >&2; exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "Chromium is missing; run as root or install sudo: apt-get install -y --no-install-recommends chromium" >&2; exit 1
	fi
	sudo="sudo"
fi
echo "installing chromium (apt-get install -y --no-install-recommends chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends chromium; then
	# A fresh container has no package lists yet.
	$sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium || {
		echo "installing chromium failed; see the apt-get output above" >&2; exit 1; }
fi
if [ ! -x /usr/bin/chromium ]; then
	echo "the chromium package installed but /usr/bin/chromium is missing" >&2; exit 1
fi
