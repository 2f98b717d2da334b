#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian (or Ubuntu) machine: Debian's
# prometheus (the sandbox runs the real one) and npm when they are missing, then the npm packages,
# Node 24 among them (the node@24 devDependency, whatever the system's Node is). Works in a root
# shell (no sudo there on a fresh Debian) and as a user with sudo. Skips what is already there, so
# it is cheap to run before every command.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: '$*' needs root: run scripts/setup.sh as root, or install sudo" >&2
    exit 1
  fi
}

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "--- installing Debian's ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
prometheus --version 2>&1 | head -1

# npm writes node_modules/.package-lock.json on every install: older than the lockfile means the
# packages are not what package-lock.json says.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "--- npm ci"
  npm ci --no-audit --no-fund
fi
echo "node $(node_modules/.bin/node --version) (node_modules/.bin/node), npm $(npm --version)"
