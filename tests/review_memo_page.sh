#!/bin/sh
# review_memo_page.sh - tests/review_memo again with every free of its
# parts made by slab_free(), so that the page memo (slab_free()'s memo of
# each page's slab, docs/slab-protocol.md "The page memo") is held to
# what the free check's memo is held to.
SHMSLAB_TEST_VIA_SLAB_FREE=1
export SHMSLAB_TEST_VIA_SLAB_FREE
exec "$TEST_BUILDDIR/tests/review_memo"
