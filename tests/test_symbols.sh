#!/bin/sh
# test_symbols.sh - the link contract of libshmslab: the shared library
# exports exactly the functions of libclient/libshmslab.sym (and the
# inline fast paths' thread-local memo), each at version SHMSLAB_1 and
# each declared in shmslab.h; the static library
# defines no global name outside slab_*, shmslab_* (common/namespace.h)
# and the generated protobuf code's shmslab__*, so it cannot clash with a
# program's own functions.  (AddressSanitizer's __odr_asan.* markers of
# the sanitizer build are the compiler's, not ours.)
set -u
. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"

so="$TEST_BUILDDIR/.libs/libshmslab.so"
a="$TEST_BUILDDIR/.libs/libshmslab.a"
sym="$TEST_SRCDIR/libclient/libshmslab.sym"
hdr="$TEST_SRCDIR/libclient/shmslab.h"

if ! command -v nm >/dev/null 2>&1; then
	skip symbols "nm not installed"
	done_testing
fi

if [ -f "$so" ]; then
	exported=$(nm -D --defined-only "$so" | awk 'NF == 3 && $3 != "SHMSLAB_1" { print $3 }' | sort)
	listed=$(sed -n 's/^[[:space:]]*\(slab_[a-z_]*\);.*/\1@@SHMSLAB_1/p' "$sym" | sort)
	if [ "$exported" = "$listed" ]; then
		ok "libshmslab.so exports exactly the version script's $(echo "$listed" | wc -l) functions at SHMSLAB_1"
	else
		not_ok "libshmslab.so exports exactly the version script's functions"
		echo "$exported" | sed 's/^/# exported: /'
		echo "$listed" | sed 's/^/# listed:   /'
	fi
	missing=""
	for f in $(echo "$listed" | sed 's/@@.*//'); do
		# a function, or the inline paths' thread-local variable
		grep -q "[[:space:]*]$f(" "$hdr" ||
			grep -q "^extern __thread .*[[:space:]*]$f\$" "$hdr" ||
			missing="$missing $f"
	done
	if [ -z "$missing" ]; then
		ok "every exported function is declared in shmslab.h"
	else
		not_ok "exported but not declared in shmslab.h:$missing"
	fi
else
	skip "shared library" "built without shared libraries"
	skip header "built without shared libraries"
fi

if [ -f "$a" ]; then
	stray=$(nm -g --defined-only "$a" 2>/dev/null |
		awk 'NF == 3 { print $3 }' | grep -vE '^(slab_|shmslab_|__odr_asan)' | sort -u)
	if [ -z "$stray" ]; then
		ok "libshmslab.a defines no global name outside slab_* and shmslab_*"
	else
		not_ok "libshmslab.a defines names a program could clash with"
		echo "$stray" | sed 's/^/# stray: /'
	fi
else
	skip "static library" "built without static libraries"
fi

done_testing
