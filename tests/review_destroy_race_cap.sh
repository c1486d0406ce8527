#!/bin/sh
# review_destroy_race_cap.sh - tests/review_destroy_race again with sheaves
# of three objects (slabd --sheaf-capacity 3): exchanges, refills and
# flushes every few operations, so that allocations meet both slot locks
# busy far more often and take node slabs (node_alloc()).  There it once
# left slabs SW_CPUP(k) on no list (about one run in ten): node_alloc()
# made a slab SW_FULL before unlinking it from its node list, and a free
# froze it to a CPU in between (tests/review_nodefull pins that window).
SHMSLAB_TEST_SHEAF_CAP=3
export SHMSLAB_TEST_SHEAF_CAP
exec "$TEST_BUILDDIR/tests/review_destroy_race"
