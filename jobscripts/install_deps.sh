#!/usr/bin/env bash
# Install the Debian packages stochmorph needs, only those missing. Safe to run again.
# Run as root (or with sudo available) on Debian bookworm.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git petsc-dev petsc64-dev libfftw3-mpi-dev libhdf5-openmpi-dev libopenmpi-dev openmpi-bin
      libgsl-dev librandom123-dev hdf5-tools libtiff-dev python3-numpy python3-h5py python3-matplotlib time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
