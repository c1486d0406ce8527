#!/bin/sh
# test_slab_hard.sh - tests/test_slab with slabd --harden-freelists: every
# cache's free pointers encoded and checked; contents, counts, the debug
# flags and the region checker must all hold as without.
SHMSLAB_TEST_HARDEN=1
export SHMSLAB_TEST_HARDEN
exec "$TEST_BUILDDIR/tests/test_slab"
