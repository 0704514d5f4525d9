#!/usr/bin/env bash
# Installs the peers the benchmarks compare against, from Debian: gearmand (gearman-job-server, with the
# gearman/gearadmin CLIs) and Dask (python3-distributed). Idempotent: does nothing when they are installed.
# Needs root for apt-get. The benchmarks run without them and report each missing peer as skipped.
set -euo pipefail
PACKAGES=(gearman-job-server gearman-tools python3-distributed)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing ${missing[*]}: run this script as root (it uses apt-get)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "gearmand: $(/usr/sbin/gearmand --version 2>&1 | grep -m1 gearmand)"
echo "dask: $(/usr/bin/python3 -c 'import dask; print(dask.__version__)' 2>/dev/null || echo 'not importable')"
