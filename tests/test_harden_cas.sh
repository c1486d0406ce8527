#!/bin/sh
# test_harden_cas.sh - tests/test_harden with slabd's per-CPU slots guarded
# by the 16-byte CAS with a tid (--slot-guard=cas).
SHMSLAB_TEST_SLOT_GUARD=cas
export SHMSLAB_TEST_SLOT_GUARD
exec "$TEST_BUILDDIR/tests/test_harden"
