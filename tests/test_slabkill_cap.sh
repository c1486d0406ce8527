#!/bin/sh
# test_slabkill_cap.sh - tests/test_slabkill again with sheaves of three
# objects (slabd --sheaf-capacity 3): the kills then land in exchanges,
# refills and flushes far more often than with the default capacities.
SHMSLAB_TEST_SHEAF_CAP=3
export SHMSLAB_TEST_SHEAF_CAP
exec "$TEST_BUILDDIR/tests/test_slabkill"
