#!/bin/sh
# test_stress_hard_norseq.sh - tests/test_stress with slabd
# --harden-freelists, rseq slots, and clients without rseq: the hardened
# node path and remote frees beside the daemon's rules.
SHMSLAB_TEST_HARDEN=1
SHMSLAB_TEST_SLOT_GUARD=rseq
GLIBC_TUNABLES=glibc.pthread.rseq=0
export SHMSLAB_TEST_HARDEN SHMSLAB_TEST_SLOT_GUARD GLIBC_TUNABLES
exec "$TEST_BUILDDIR/tests/test_stress"
