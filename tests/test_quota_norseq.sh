#!/bin/sh
# test_quota_norseq.sh - tests/test_quota in an rseq region by clients
# without rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0): EDQUOT through the
# locked node path.
SHMSLAB_TEST_SLOT_GUARD=rseq
GLIBC_TUNABLES=glibc.pthread.rseq=0
export SHMSLAB_TEST_SLOT_GUARD GLIBC_TUNABLES
exec "$TEST_BUILDDIR/tests/test_quota"
