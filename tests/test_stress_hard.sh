#!/bin/sh
# test_stress_hard.sh - tests/test_stress with slabd --harden-freelists (the
# default slot guard): the hardened sequences under many processes.
SHMSLAB_TEST_HARDEN=1
export SHMSLAB_TEST_HARDEN
exec "$TEST_BUILDDIR/tests/test_stress"
