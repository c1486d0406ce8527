#!/bin/sh
# test_slabstop_cap.sh - tests/test_slabstop again with sheaves of three
# objects (slabd --sheaf-capacity 3): the stops then land inside slow
# paths, and so holding node locks, far more often.  In a one-node pool a
# stopped holder of node 0's lock kept every new slab from everybody
# until slabd stocked the barn instead (daemon/cache.c, barn_stock());
# before that, this failed in nearly every run.  stop.64's slabs (64
# objects) are more than a barn of eight sheaves of three holds: they are
# handed in parts, the rest kept by slabd until the lock frees.
SHMSLAB_TEST_SHEAF_CAP=3
export SHMSLAB_TEST_SHEAF_CAP
exec "$TEST_BUILDDIR/tests/test_slabstop"
