#!/bin/sh
# test_harden_norseq.sh - tests/test_harden with rseq slots and clients that
# have no rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0): the node path.
SHMSLAB_TEST_SLOT_GUARD=rseq
GLIBC_TUNABLES=glibc.pthread.rseq=0
export SHMSLAB_TEST_SLOT_GUARD GLIBC_TUNABLES
exec "$TEST_BUILDDIR/tests/test_harden"
