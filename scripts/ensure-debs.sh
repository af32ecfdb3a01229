#!/usr/bin/env bash
# Install the named Debian packages that are missing (apt-get update once, only if needed).
set -euo pipefail
missing=()
for pkg in "$@"; do
  if [ "$pkg" = python3-venv ]; then
    python3 -c "import ensurepip, venv" 2>/dev/null && continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
