#!/bin/sh
# bench/setup.sh - install the peers of the benchmark suite (bench/suite.sh)
# and gnuplot, from Debian 12's packages.
#
# As root it runs apt-get install; otherwise it prints the command to run.
# Then configure (re-run it: bench/suite.sh does on a fresh build directory)
# builds a backend for each peer it finds.  Every package is optional: a
# peer that is missing is reported skipped in the table, with the package
# to install.
#
#	libgoogle-perftools-dev	tcmalloc (libtcmalloc_minimal)
#	libjemalloc-dev		jemalloc
#	libmimalloc-dev		mimalloc (Debian 12 has 2.0.9)
#	libdpdk-dev		DPDK rte_mempool (EAL, multi-process)
#	libboost-dev g++	Boost.Interprocess (header-only) and a C++ compiler
#	gnuplot-nox		the PNG plots
#	linux-perf		instructions per operation, where the CPU has a PMU
set -eu

pkgs="libgoogle-perftools-dev libjemalloc-dev libmimalloc-dev libdpdk-dev
libboost-dev g++ pkg-config gnuplot-nox linux-perf"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/setup.sh: not root; run:"
	echo "  sudo apt-get install -y --no-install-recommends" $pkgs
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # a list of packages
apt-get install -y --no-install-recommends $pkgs
echo "bench/setup.sh: installed; re-run configure so that 'make bench'" \
	"builds the peers' backends"
