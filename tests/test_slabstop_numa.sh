#!/bin/sh
# test_slabstop_numa.sh - tests/test_slabstop again in a pool of two logical
# nodes (slabd --fake-numa 2, a testing aid): on 2 CPUs each node then has
# one slot, so a stopped holder of it, or of a node's list lock, leaves the
# others only the paths that take no lock it holds (loans, frees to slabs,
# node slabs, a refill on the other node).  Before those, this stalled in
# about half the runs at scale 3 (docs/slab-protocol.md, "Never waiting").
SHMSLAB_TEST_FAKE_NUMA=2
export SHMSLAB_TEST_FAKE_NUMA
exec "$TEST_BUILDDIR/tests/test_slabstop"
