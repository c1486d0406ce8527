#!/bin/sh
# test_slab_norseq.sh - tests/test_slab with slabd's slots guarded by rseq
# (--slot-guard=rseq) and client processes that have no rseq
# (GLIBC_TUNABLES=glibc.pthread.rseq=0, as under valgrind or on an old
# kernel): they must never touch the slots and still work, on the locked
# node path, beside the daemon's rules.
SHMSLAB_TEST_SLOT_GUARD=rseq
GLIBC_TUNABLES=glibc.pthread.rseq=0
export SHMSLAB_TEST_SLOT_GUARD GLIBC_TUNABLES
exec "$TEST_BUILDDIR/tests/test_slab"
