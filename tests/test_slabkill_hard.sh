#!/bin/sh
# test_slabkill_hard.sh - tests/test_slabkill with slabd --harden-freelists:
# processes killed mid-operation leave encoded lists that recovery and the
# checker must read back whole.
SHMSLAB_TEST_HARDEN=1
export SHMSLAB_TEST_HARDEN
exec "$TEST_BUILDDIR/tests/test_slabkill"
