#!/usr/bin/env bash
# Build the offline wheelhouse deploy/install.sh installs from (run by 'make wheelhouse').
#
#   deploy/make-wheelhouse.sh OUT_DIR [PLATFORMS] [PYTHON_VERSION]
#
# Without PLATFORMS the wheels fit this machine (build on a Pi for Pis). With PLATFORMS (pip platform tags,
# space-separated, e.g. "manylinux_2_17_aarch64 manylinux2014_aarch64" for 64-bit Raspberry Pi OS, or
# "linux_armv7l manylinux_2_17_armv7l" for 32-bit) the dependencies are the released binary wheels for that
# platform and PYTHON_VERSION (default 3.11, Debian 12's); pip cannot compile for another architecture, so a
# dependency without such a wheel is an error that names it. PYTHON: the interpreter to run pip with.
set -euo pipefail
out=${1:?usage: make-wheelhouse.sh OUT_DIR [PLATFORMS] [PYTHON_VERSION]}
platforms=${2:-}
pyver=${3:-3.11}
py=${PYTHON:-python3}

rm -rf "$out"
mkdir -p "$out"
if [ -z "$platforms" ]; then
  "$py" -m pip wheel -q -w "$out" .
  exit 0
fi
# store-edge itself is pure Python (py3-none-any): one wheel fits every platform
"$py" -m pip wheel -q --no-deps -w "$out" .
wheel=$(ls "$out"/store_edge-*.whl | sort -V | tail -n 1)
version=$(basename "$wheel" | cut -d- -f2)
platform_args=()
for p in $platforms; do platform_args+=(--platform "$p"); done
"$py" -m pip download -q --only-binary=:all: --implementation cp --python-version "$pyver" "${platform_args[@]}" \
  --find-links "$out" -d "$out" "store-edge==$version"
echo "wheelhouse $out: $(ls "$out"/*.whl | wc -l) wheels for $platforms (CPython $pyver)"
