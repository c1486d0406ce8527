#!/bin/sh
# test_reclaim_hard.sh - tests/test_reclaim with slabd --harden-freelists:
# a reclaimed object's free pointer decodes to a link of its slab, and the
# late free of it must still be refused with ESTALE (the owner word
# decides first), not reported as a double free.
SHMSLAB_TEST_HARDEN=1
export SHMSLAB_TEST_HARDEN
exec "$TEST_BUILDDIR/tests/test_reclaim"
