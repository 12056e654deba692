#!/usr/bin/env bash
# Installs the Debian packages listed in $1 that are not installed yet. Needs root (or sudo) only when
# something is missing, so a machine that already has everything never asks for privileges.
set -euo pipefail
list=${1:-deploy/system-packages.txt}
missing=()
while read -r pkg; do
  pkg=${pkg%%#*}; pkg=$(echo "$pkg" | xargs)
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
if ! command -v apt-get >/dev/null; then
  echo "apt-get not found: install these packages by hand: ${missing[*]}" >&2; exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
