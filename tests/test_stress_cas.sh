#!/bin/sh
# test_stress_cas.sh - tests/test_stress again, with slabd's per-CPU slots
# guarded by the 16-byte CAS with a tid instead of restartable sequences
# (--slot-guard=cas), so that both slot protocols run under make check.
SHMSLAB_TEST_SLOT_GUARD=cas
export SHMSLAB_TEST_SLOT_GUARD
exec "$TEST_BUILDDIR/tests/test_stress"
