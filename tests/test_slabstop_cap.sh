#!/bin/sh
# test_slabstop_cap.sh - tests/test_slabstop again with sheaves of eight
# objects (slabd --sheaf-capacity 8): the stops then land inside slow
# paths, and so holding node locks, far more often.  In a one-node pool a
# stopped holder of node 0's lock kept every new slab from everybody
# until slabd stocked the barn instead (daemon/cache.c, barn_stock());
# before that, this failed in nearly every run with sheaves of three.
# Eight, not fewer: barn_stock() hands whole slabs, and a barn of eight
# sheaves of c objects holds no slab of stop.64 (64 objects) when c < 8
# (with sheaves of three it still failed, in 1 of 4 sanitizer runs).
SHMSLAB_TEST_SHEAF_CAP=8
export SHMSLAB_TEST_SHEAF_CAP
exec "$TEST_BUILDDIR/tests/test_slabstop"
