#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install the Debian packages locus needs, only those missing.
# Run as root on Debian 12 or later.  With --bench, also what locus-bench
# compares with: python3-h5py and python3-numpy (tools/run bench).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libfabric-dev libfabric-bin      # messages and RMA; fi_info, fi_pingpong
  libhwloc-dev hwloc               # topology and binding; lstopo
  libhdf5-dev hdf5-tools           # data on workers; h5dump
  libcriterion-dev                 # tests
  libsodium-dev                    # HMAC-SHA256 and random keys
  libjson-c-dev                    # scheduler file
  libpmix-dev                      # scheduler record through PMIx (mpirun, srun)
  libmicrohttpd-dev                # the scheduler's dashboard
  chromium prometheus              # dashboard tests: headless page, promtool
  iproute2 util-linux              # network namespaces for multi-host tests
  openmpi-bin libopenmpi-dev       # mpirun test, examples/mpi_client
  slurm-wlm munge                  # Slurm test: slurmctld, slurmd, sbatch
  python3                          # tests: the README carries the recipes
  clang-format git                 # the format check (tests/format_check.sh)
)
# --bench: also what locus-bench compares with (tools/run bench)
if [ "${1:-}" = --bench ]; then
  pkgs+=(python3-h5py python3-numpy) # the h5 section's h5py + numpy figure
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
