#!/bin/sh
#
# test_header.sh - shmslab.h as programs outside the project compile it:
# tests/header_prog.c built with every compiler and language mode found
# (gcc and clang as C99 -pedantic and C11, g++ and clang++ as C++11 and
# C++17, all -Wall -Wextra -Werror, optimised and not), linked with
# -lshmslab only, runs against a slabd and passes its checks; where the
# compiler has the inline fast paths (GCC 11+, Clang 14+ on x86-64) the
# program references the library's thread-local memo (the inline free was
# compiled in), and with -DSHMSLAB_NO_INLINE it does not.  A compiler that
# is not installed is skipped.
set -u
: "${SLABD:?SLABD must name the slabd binary}"
. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
setup_tmp test_header

src=$TEST_SRCDIR/tests/header_prog.c
inc=$TEST_SRCDIR/libclient
lib=$TEST_BUILDDIR/.libs
arch=$(uname -m)
# a sanitizer build's library needs its runtime in the program too (GCC's:
# Clang's would be another, so Clang is left out there)
san=${SAN_CFLAGS:-}

sock=$tmp/slabd.sock
check "slabd -f listens on $sock" start slabd "$sock"

# build NAME COMPILER LANGFLAGS...: compile and link tests/header_prog.c
build() {
	_n=$1
	_cc=$2
	shift 2
	if [ "${_cc%++}" != "$_cc" ]; then
		cp "$src" "$tmp/$_n.cc"
		_s=$tmp/$_n.cc
	else
		_s=$src
	fi
	$_cc "$@" $san -Wall -Wextra -Werror -I"$inc" -c "$_s" \
	    -o "$tmp/$_n.o" >"$tmp/$_n.cc.err" 2>&1 &&
	    $_cc $san "$tmp/$_n.o" -o "$tmp/$_n" -L"$lib" -lshmslab \
	    -Wl,-rpath,"$lib" >>"$tmp/$_n.cc.err" 2>&1
}

for mode in "gcc -std=c99 -pedantic -O2" "gcc -std=c11 -O0" \
    "gcc -std=c11 -O2 -DSHMSLAB_NO_INLINE" "clang -std=c99 -pedantic -O2" \
    "clang -std=c11 -O0" "g++ -std=c++11 -O2" "g++ -std=c++17 -pedantic -O0" \
    "clang++ -std=c++17 -O2"; do
	set -- $mode
	cc=$1
	name=$(echo "$mode" | tr -c 'a-z0-9+\n' '_' | tr '+' 'x')
	if ! command -v "$cc" >/dev/null 2>&1; then
		skip "$mode" "$cc is not installed"
		continue
	fi
	case "$cc" in
	clang*) if [ -n "$san" ]; then
		skip "$mode" "the library is built with GCC's sanitizers"
		continue
	fi ;;
	esac
	if ! build "$name" "$@"; then
		not_ok "$mode: shmslab.h compiles without a warning and links"
		diag "$tmp/$name.cc.err" "$cc: "
		continue
	fi
	ok "$mode: shmslab.h compiles without a warning and links"
	run "$name" "$tmp/$name" "$sock"
	if [ $rc -eq 0 ] && has "$tmp/$name.out" "all checks passed"; then
		ok "$mode: the program's checks pass ($(sed -n 's/^inline fast paths: //p' "$tmp/$name.out") inline)"
	else
		not_ok "$mode: the program's checks pass (exit $rc)"
		diag "$tmp/$name.out" "stdout: "
		diag "$tmp/$name.err" "stderr: "
	fi
	memo=no
	nm "$tmp/$name.o" 2>/dev/null | grep -q ' U slab_inline_memo$' && memo=yes
	inl=$(sed -n 's/^inline fast paths: //p' "$tmp/$name.out")
	major=$($cc -dumpversion 2>/dev/null | sed 's/\..*//')
	case "$cc" in clang*) need=14 ;; *) need=11 ;; esac
	case "$mode" in
	*SHMSLAB_NO_INLINE*) want=no ;;
	*) if [ "${major:-0}" -ge $need ] 2>/dev/null; then want=yes; else want=no; fi ;;
	esac
	if [ "$arch" = x86_64 ] && [ "$memo" = "$want" ] && [ "$inl" = "$want" ]; then
		ok "$mode: inline fast paths compiled in: $want"
	elif [ "$arch" != x86_64 ] && [ "$memo" = no ]; then
		ok "$mode: no inline fast paths on $arch"
	else
		not_ok "$mode: inline fast paths as expected (header says $inl, object references the memo: $memo, want $want)"
	fi
done

# The inline functions' own names begin with sl_: a program's object-like
# macros of common words (defined before the header) must not reach in.
if [ "$arch" = x86_64 ] && command -v gcc >/dev/null 2>&1; then
	{
		for w in f k o x idx tmp cnt slot rel retry call cpu \
		    shift cap nsh sgen ssh sobj srel; do
			echo "#define $w 1"
		done
		echo '#include <shmslab.h>'
		echo 'void *get(struct slab_cache *c) { return slab_cache_alloc(c, 0); }'
		echo 'void put(struct slab_cache *c, void *p) { slab_cache_free(c, p); }'
	} >"$tmp/macros.c"
	if gcc -std=c11 -Wall -Wextra -Werror -I"$inc" -c "$tmp/macros.c" \
	    -o "$tmp/macros.o" >"$tmp/macros.err" 2>&1; then
		ok "the inline code compiles under macros of common words"
	else
		not_ok "the inline code compiles under macros of common words"
		diag "$tmp/macros.err" "gcc: "
	fi
else
	skip "macros of common words" "not x86-64 or no gcc"
fi

done_testing
