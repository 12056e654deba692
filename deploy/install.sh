#!/usr/bin/env bash
# store-edge installer for Debian / Raspberry Pi OS. Offline: everything comes from a wheelhouse made by
# 'make wheelhouse' (pip --no-index). Safe to re-run: a complete release is never reinstalled, files are
# rewritten with the same content and modes, and a newer wheelhouse on an installed box goes through
# 'store-edge upgrade' (backup, migrate, health check, automatic rollback).
#
#   sudo deploy/install.sh --wheelhouse DIR [--version V] [--config FILE] [--hub URL --code CODE]
#                          [--re-enroll] [--volatile-logs] [--root DIR] [--python PY]
#
# --hub/--code enrol the device unless it already has a credential (codes are single-use); --re-enroll
# enrols again anyway. Units restart only when the release, the units or the config changed: a re-run
# during trading leaves a sale in progress alone. On a till, getty@tty1 is masked (the till owns tty1).
# --root DIR installs into a throwaway root prefix (tests, image building): no user, no systemd, no udev
# (--manage-services runs the systemd/udev/enrol steps there too, with STORE_EDGE_SYSTEMCTL,
# STORE_EDGE_UDEVADM and STORE_EDGE_RUNAS naming stand-ins: tests).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=/
WHEELHOUSE=""
VERSION=""
CONFIG_SRC=""
HUB=""
CODE=""
VOLATILE_LOGS=0
RE_ENROLL=0
MANAGE_SERVICES=""
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
    --re-enroll) RE_ENROLL=1; shift ;;
    --manage-services) MANAGE_SERVICES=1; shift ;;
    --python) PYTHON=${2:?}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
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
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "store-edge needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1) (Debian 12 / Raspberry Pi OS bookworm ship 3.11; or pass --python)"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "python venv support missing: apt-get install python3-venv"

wheel=$(ls "$WHEELHOUSE"/store_edge-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$wheel" ] || die "no store_edge-*.whl in $WHEELHOUSE"
WHEEL_VERSION=$(basename "$wheel" | cut -d- -f2)
VERSION=${VERSION:-$WHEEL_VERSION}
case "$VERSION" in */*|.*|"") die "bad --version '$VERSION'" ;; esac

MANAGE_SERVICES=${MANAGE_SERVICES:-$LIVE}
SYSTEMCTL=${STORE_EDGE_SYSTEMCTL:-systemctl}
UDEVADM=${STORE_EDGE_UDEVADM:-udevadm}
RELEASE_CHANGED=0
# a checksum of what a group of installed files holds now (missing files count as empty)
fingerprint() { for f in "$@"; do [ -f "$f" ] && cat "$f"; echo "|$f|"; done 2>/dev/null | cksum; }

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
  RELEASE_CHANGED=1
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
  # pip's files are still in the page cache: flush them all before RELEASE says the release is complete,
  # or a power cut leaves a "complete" release with empty modules
  sync
  printf '{"version": "%s", "installed_at": "%s"}\n' "$VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    > "$RELEASE/RELEASE.tmp"
  sync "$RELEASE/RELEASE.tmp" 2>/dev/null || sync
  mv -f "$RELEASE/RELEASE.tmp" "$RELEASE/RELEASE"
  sync "$RELEASE" 2>/dev/null || sync
fi

# -- configuration: never overwrite a technician's config unless one is given ----------------------
CONFIG=$R/etc/store-edge/config.toml
config_before=$(fingerprint "$CONFIG")
if [ -n "$CONFIG_SRC" ]; then
  install -m 0640 "$CONFIG_SRC" "$CONFIG"
elif [ ! -e "$CONFIG" ]; then
  install -m 0640 "$here/config.toml.example" "$CONFIG"
fi
chmod 0640 "$CONFIG"
owner "root:$USER_NAME" "$CONFIG"

# -- systemd units, udev rules, journald limits ---------------------------------------------------
config_changed=0; [ "$(fingerprint "$CONFIG")" = "$config_before" ] || config_changed=1
install -d -m 0755 "$R/etc/systemd/system" "$R/etc/udev/rules.d" "$R/etc/systemd/journald.conf.d" "$R/usr/local/bin"
unit_files=(); for unit in "$here"/systemd/*.service; do unit_files+=("$R/etc/systemd/system/$(basename "$unit")"); done
UDEV_RULES=$R/etc/udev/rules.d/70-store-edge.rules
JOURNALD_CONF=$R/etc/systemd/journald.conf.d/50-store-edge.conf
units_before=$(fingerprint "${unit_files[@]}")
udev_before=$(fingerprint "$UDEV_RULES")
journald_before=$(fingerprint "$JOURNALD_CONF")
for unit in "$here"/systemd/*.service; do install -m 0644 "$unit" "$R/etc/systemd/system/"; done
install -m 0644 "$here/udev/70-store-edge.rules" "$R/etc/udev/rules.d/70-store-edge.rules"
install -m 0644 "$here/journald/50-store-edge.conf" "$R/etc/systemd/journald.conf.d/50-store-edge.conf"
if [ "$VOLATILE_LOGS" = 1 ]; then
  sed -i 's/^Storage=.*/Storage=volatile/' "$R/etc/systemd/journald.conf.d/50-store-edge.conf"
fi
ln -sfn /opt/store-edge/current/bin/store-edge "$R/usr/local/bin/store-edge.new"
mv -Tf "$R/usr/local/bin/store-edge.new" "$R/usr/local/bin/store-edge"
units_changed=0; [ "$(fingerprint "${unit_files[@]}")" = "$units_before" ] || units_changed=1
udev_changed=0; [ "$(fingerprint "$UDEV_RULES")" = "$udev_before" ] || udev_changed=1
journald_changed=0; [ "$(fingerprint "$JOURNALD_CONF")" = "$journald_before" ] || journald_changed=1

# -- switch: first install links directly; a different release goes through the upgrade -----------
current=""
[ -L "$BASE/current" ] && current=$(basename "$(readlink "$BASE/current")")
if [ -z "$current" ]; then
  sync  # the release is on the card before anything names it
  ln -sfn "releases/$VERSION" "$BASE/.current.new"
  mv -Tf "$BASE/.current.new" "$BASE/current"   # rename(2): atomic
  sync "$BASE" 2>/dev/null || sync
  say "release $VERSION is current"
elif [ "$current" != "$VERSION" ]; then
  say "upgrading $current -> $VERSION"
  args=(upgrade --wheelhouse "$WHEELHOUSE" --version "$VERSION" --python "$PYTHON" --root "$ROOT")
  # the upgrade restarts the services itself (and rolls back when they are unhealthy)
  "$RELEASE/bin/python" -m edge.ops "${args[@]}"
  RELEASE_CHANGED=0
else
  say "release $VERSION is already current"
fi

# -- live system: reload, enable by role, enrol; restart only what changed ---------------------------
if [ "$MANAGE_SERVICES" = 1 ]; then
  if [ "$LIVE" = 1 ]; then
    RUNAS=${STORE_EDGE_RUNAS:-runuser -u $USER_NAME -- env STORE_EDGE_PRODUCTION=1}
  else
    RUNAS=${STORE_EDGE_RUNAS:?--manage-services with --root needs STORE_EDGE_RUNAS}
  fi
  if [ "$units_changed" = 1 ]; then "$SYSTEMCTL" daemon-reload; fi
  if [ "$journald_changed" = 1 ]; then "$SYSTEMCTL" try-restart systemd-journald.service || true; fi
  if [ "$udev_changed" = 1 ]; then
    "$UDEVADM" control --reload-rules && "$UDEVADM" trigger --subsystem-match=tty --subsystem-match=input || true
  fi
  role=$(sed -n 's/^[[:space:]]*role[[:space:]]*=[[:space:]]*"\([a-z]*\)".*/\1/p' "$CONFIG" | head -n1)
  case "${role:-till}" in
    till) units="store-edge-till.service" ;;
    presence) units="store-edge-presence.service store-edge-sync.service" ;;
    *) units="store-edge-sync.service" ;;
  esac
  if [ "${role:-till}" = till ]; then
    # the till owns tty1: a getty there would fight it for the console (Conflicts= alone lets logind's
    # autovt bring the login prompt back on the next VT switch)
    "$SYSTEMCTL" disable --quiet getty@tty1.service 2>/dev/null || true
    "$SYSTEMCTL" mask --quiet getty@tty1.service
  fi
  if [ -n "$HUB" ] && [ -n "$CODE" ]; then
    if [ -e "$DATA/device-credential.json" ] && [ "$RE_ENROLL" != 1 ]; then
      say "already enrolled ($DATA/device-credential.json); not using the code again (--re-enroll to force)"
    else
      # shellcheck disable=SC2086
      $RUNAS "$BASE/current/bin/store-edge" enroll --hub "$HUB" --code "$CODE"
    fi
  fi
  # shellcheck disable=SC2086
  "$SYSTEMCTL" enable --quiet store-edge-resume.service $units
  if [ "$RELEASE_CHANGED" = 1 ] || [ "$units_changed" = 1 ] || [ "$config_changed" = 1 ]; then
    # shellcheck disable=SC2086
    "$SYSTEMCTL" restart $units
    say "restarted: $units (release, units or config changed); check with 'store-edge doctor'"
  else
    # starts what is not running; leaves a running till (and the sale on it) alone
    # shellcheck disable=SC2086
    "$SYSTEMCTL" start $units
    say "enabled: $units (nothing changed, nothing restarted)"
  fi
fi
