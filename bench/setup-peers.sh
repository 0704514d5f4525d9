#!/usr/bin/env bash
# Installs the peers the benchmarks compare against, from Debian: gearmand and Dask (python3-distributed).
# Idempotent; needs root. The benchmarks skip (and say so) any peer that is missing.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "run as root (apt-get)" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends gearman-job-server gearman-tools python3-distributed >/dev/null
echo "installed: $(gearmand --version 2>&1 | head -1); dask $(/usr/bin/python3 -c 'import dask; print(dask.__version__)')"
