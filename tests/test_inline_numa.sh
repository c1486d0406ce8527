#!/bin/sh
# test_inline_numa.sh - tests/test_inline again in a pool of two logical
# nodes (slabd --fake-numa 2, a testing aid): the inline free has no memo
# there and must leave every free to the library, which sends another
# node's object to its own slab; allocations still run inline.
SHMSLAB_TEST_FAKE_NUMA=2
export SHMSLAB_TEST_FAKE_NUMA
exec "$TEST_BUILDDIR/tests/test_inline"
