#!/usr/bin/env bash
# store-edge installer for Debian / Raspberry Pi OS. Offline: everything comes from a wheelhouse made by
# 'make wheelhouse' (pip --no-index). Safe to re-run: a complete release is never reinstalled, files are
# rewritten with the same content and modes, and a newer wheelhouse on an installed box goes through
# 'store-edge upgrade' (backup, migrate, health check, automatic rollback).
#
#   sudo deploy/install.sh --wheelhouse DIR [--version V] [--config FILE] [--hub URL --code CODE]
#                          [--volatile-logs] [--root DIR] [--python PY]
#
# --root DIR installs into a throwaway root prefix (tests, image building): no user, no systemd, no udev.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=/
WHEELHOUSE=""
VERSION=""
CONFIG_SRC=""
HUB=""
CODE=""
VOLATILE_LOGS=0
PYTHON=/usr/bin/python3
USER_NAME=store-edge

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "store-edge install: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?}; shift 2 ;;
    --wheelhouse) WHEELHOUSE=${2:?}; shift 2 ;;
    --version) VERSION=${2:?}; shift 2 ;;
    --config) CONFIG_SRC=${2:?}; shift 2 ;;
    --hub) HUB=${2:?}; shift 2 ;;
    --code) CODE=${2:?}; shift 2 ;;
    --volatile-logs) VOLATILE_LOGS=1; shift ;;
    --python) PYTHON=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ -n "$WHEELHOUSE" ] || die "--wheelhouse DIR is required (make it with 'make wheelhouse')"
[ -d "$WHEELHOUSE" ] || die "the wheelhouse $WHEELHOUSE is not a directory"
WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
ROOT=$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)
R=${ROOT%/}   # "" for the real root, so "$R/etc" is "/etc"
LIVE=0; [ "$ROOT" = "/" ] && LIVE=1
if [ "$LIVE" = 1 ] && [ "$(id -u)" -ne 0 ]; then die "run as root (sudo)"; fi
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: apt-get install python3 python3-venv"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "python venv support missing: apt-get install python3-venv"

wheel=$(ls "$WHEELHOUSE"/store_edge-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$wheel" ] || die "no store_edge-*.whl in $WHEELHOUSE"
WHEEL_VERSION=$(basename "$wheel" | cut -d- -f2)
VERSION=${VERSION:-$WHEEL_VERSION}
case "$VERSION" in */*|.*|"") die "bad --version '$VERSION'" ;; esac

BASE=$R/opt/store-edge
RELEASE=$BASE/releases/$VERSION
DATA=$R/var/lib/store-edge

# -- the system user and groups (live only) -------------------------------------------------------
if [ "$LIVE" = 1 ]; then
  for g in dialout input bluetooth; do getent group "$g" >/dev/null || groupadd --system "$g"; done
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/store-edge --no-create-home --shell /usr/sbin/nologin \
      --user-group "$USER_NAME"
  fi
  usermod -a -G dialout,input,bluetooth,tty "$USER_NAME"
fi
owner() { # owner USER:GROUP PATH...: only meaningful (and only possible) on a live system
  if [ "$LIVE" = 1 ]; then chown "$@"; fi
}

# -- directories ----------------------------------------------------------------------------------
install -d -m 0755 "$BASE" "$BASE/releases" "$R/etc/store-edge"
install -d -m 0750 "$DATA" "$DATA/backups"
owner "$USER_NAME:$USER_NAME" "$DATA" "$DATA/backups"
owner "root:$USER_NAME" "$R/etc/store-edge"

# -- the release: its own venv, offline; RELEASE is written last so a power cut leaves no half release
if [ -f "$RELEASE/RELEASE" ]; then
  say "release $VERSION already installed"
else
  rm -rf "$RELEASE"
  say "installing release $VERSION from $WHEELHOUSE (offline)"
  pip_opts=(install --quiet --no-index --disable-pip-version-check --find-links "$WHEELHOUSE" "store-edge==$WHEEL_VERSION")
  if "$PYTHON" -m pip --python "$PYTHON" --version >/dev/null 2>&1; then
    # the system pip installs into a pip-less venv: much faster than bootstrapping pip (ensurepip) per release
    "$PYTHON" -m venv --without-pip "$RELEASE"
    "$PYTHON" -m pip --python "$RELEASE/bin/python" "${pip_opts[@]}"
  else
    "$PYTHON" -m venv "$RELEASE"
    "$RELEASE/bin/python" -m pip "${pip_opts[@]}"
  fi
  printf '{"version": "%s", "installed_at": "%s"}\n' "$VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    > "$RELEASE/RELEASE.tmp"
  sync "$RELEASE/RELEASE.tmp" 2>/dev/null || sync
  mv -f "$RELEASE/RELEASE.tmp" "$RELEASE/RELEASE"
fi

# -- configuration: never overwrite a technician's config unless one is given ----------------------
CONFIG=$R/etc/store-edge/config.toml
if [ -n "$CONFIG_SRC" ]; then
  install -m 0640 "$CONFIG_SRC" "$CONFIG"
elif [ ! -e "$CONFIG" ]; then
  install -m 0640 "$here/config.toml.example" "$CONFIG"
fi
chmod 0640 "$CONFIG"
owner "root:$USER_NAME" "$CONFIG"

# -- systemd units, udev rules, journald limits ---------------------------------------------------
install -d -m 0755 "$R/etc/systemd/system" "$R/etc/udev/rules.d" "$R/etc/systemd/journald.conf.d" "$R/usr/local/bin"
for unit in "$here"/systemd/*.service; do install -m 0644 "$unit" "$R/etc/systemd/system/"; done
install -m 0644 "$here/udev/70-store-edge.rules" "$R/etc/udev/rules.d/70-store-edge.rules"
install -m 0644 "$here/journald/50-store-edge.conf" "$R/etc/systemd/journald.conf.d/50-store-edge.conf"
if [ "$VOLATILE_LOGS" = 1 ]; then
  sed -i 's/^Storage=.*/Storage=volatile/' "$R/etc/systemd/journald.conf.d/50-store-edge.conf"
fi
ln -sfn /opt/store-edge/current/bin/store-edge "$R/usr/local/bin/store-edge.new"
mv -Tf "$R/usr/local/bin/store-edge.new" "$R/usr/local/bin/store-edge"

# -- switch: first install links directly; a different release goes through the upgrade -----------
current=""
[ -L "$BASE/current" ] && current=$(basename "$(readlink "$BASE/current")")
if [ -z "$current" ]; then
  ln -sfn "releases/$VERSION" "$BASE/.current.new"
  mv -Tf "$BASE/.current.new" "$BASE/current"   # rename(2): atomic
  sync "$BASE" 2>/dev/null || sync
  say "release $VERSION is current"
elif [ "$current" != "$VERSION" ]; then
  say "upgrading $current -> $VERSION"
  args=(upgrade --wheelhouse "$WHEELHOUSE" --version "$VERSION" --python "$PYTHON" --root "$ROOT")
  "$RELEASE/bin/python" -m edge.ops "${args[@]}"
else
  say "release $VERSION is already current"
fi

# -- live system: reload, enable by role, enrol -----------------------------------------------------
if [ "$LIVE" = 1 ]; then
  systemctl daemon-reload
  systemctl try-restart systemd-journald.service || true
  udevadm control --reload-rules && udevadm trigger --subsystem-match=tty --subsystem-match=input || true
  role=$(sed -n 's/^[[:space:]]*role[[:space:]]*=[[:space:]]*"\([a-z]*\)".*/\1/p' "$CONFIG" | head -n1)
  case "${role:-till}" in
    till) units="store-edge-till.service" ;;
    presence) units="store-edge-presence.service store-edge-sync.service" ;;
    *) units="store-edge-sync.service" ;;
  esac
  if [ -n "$HUB" ] && [ -n "$CODE" ]; then
    runuser -u "$USER_NAME" -- env STORE_EDGE_PRODUCTION=1 /opt/store-edge/current/bin/store-edge enroll \
      --hub "$HUB" --code "$CODE"
  fi
  # shellcheck disable=SC2086
  systemctl enable $units
  # shellcheck disable=SC2086
  systemctl restart $units
  say "enabled: $units; check with 'store-edge doctor'"
fi
