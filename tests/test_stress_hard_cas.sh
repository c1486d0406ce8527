#!/bin/sh
# test_stress_hard_cas.sh - tests/test_stress with slabd --harden-freelists
# and --slot-guard=cas: contents survive and counts add up.
SHMSLAB_TEST_HARDEN=1
SHMSLAB_TEST_SLOT_GUARD=cas
export SHMSLAB_TEST_HARDEN SHMSLAB_TEST_SLOT_GUARD
exec "$TEST_BUILDDIR/tests/test_stress"
