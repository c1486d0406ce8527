#!/bin/sh
# test_sheaf_cap.sh - tests/test_sheaf again with sheaves of one object
# (slabd --sheaf-capacity 1): every other operation then swaps, exchanges
# at the barn, refills or flushes, so those paths run thousands of times
# where the default capacities run them tens of times.
SHMSLAB_TEST_SHEAF_CAP=1
export SHMSLAB_TEST_SHEAF_CAP
exec "$TEST_BUILDDIR/tests/test_sheaf"
