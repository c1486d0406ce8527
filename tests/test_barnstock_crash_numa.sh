#!/bin/sh
# test_barnstock_crash_numa.sh - tests/test_barnstock_crash again in a pool
# of two logical nodes (slabd --fake-numa 2, a testing aid): the stopped
# child holds both nodes' list locks, so that both barns are stocked and
# the rests of two nodes are out when slabd is killed (review of b9d54d7).
SHMSLAB_TEST_FAKE_NUMA=2
export SHMSLAB_TEST_FAKE_NUMA
exec "$TEST_BUILDDIR/tests/test_barnstock_crash"
