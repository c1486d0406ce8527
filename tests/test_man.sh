#!/bin/sh
#
# test_man.sh - lint the man pages and check that they cover the public API.
#
# Run by make check with TEST_SRCDIR (the source tree), MANDOC and GROFF
# (paths found by configure; either may be empty).  Prints TAP, plan last.
#
#   - every man/*.[0-9] page: mandoc -Tlint -W warning prints nothing, or,
#     without mandoc, groff -mdoc -ww -z prints nothing; a page that is only
#     a link page (a symbolic link in the tree, installed as a .so page; or
#     a .so page) is not linted but its target must exist and name the
#     linked page in its NAME section;
#   - every function declared in libclient/shmslab.h has man/NAME.3 and is
#     mentioned in man/shmslab.3;
#   - the pages in man/ and dist_man_MANS in Makefile.am are the same set.
#
# Exits 1 if any case failed.

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
setup_tmp test_man

srcdir=$TEST_SRCDIR
mandir=$srcdir/man
header=$srcdir/libclient/shmslab.h
MANDOC=${MANDOC:-}
GROFF=${GROFF:-}

# The target of a page that is nothing but a ".so man3/x.3" link, or
# nothing if the page has content of its own.
so_target() {
	if [ -L "$1" ]; then
		readlink "$1"
		return
	fi
	awk '
		/^\.\\"/ { next }		# comment line
		/^\.so[ \t]/ && !seen { target = $2; seen = 1; next }
		{ other = 1 }
		END { if (seen && !other) print target }
	' "$1"
}

pages=
for f in "$mandir"/*.[0-9]; do
	[ -f "$f" ] && pages="$pages $f"
done
if [ -z "$pages" ]; then
	not_ok "man pages found in $mandir"
fi

# ---------------------------------------------------------------- lint
if [ -z "$MANDOC" ] && [ -z "$GROFF" ]; then
	skip "man lint" "no mandoc or groff"
	linter=
elif [ -n "$MANDOC" ]; then
	linter=mandoc
else
	linter=groff
fi

for f in $pages; do
	name=${f##*/}
	target=$(so_target "$f")
	if [ -n "$target" ]; then
		tpath=$mandir/${target##*/}
		tname=${target##*/}
		if [ ! -f "$tpath" ]; then
			not_ok "$name: .so target $target exists"
			continue
		fi
		if [ -n "$(so_target "$tpath")" ]; then
			not_ok "$name: .so target $target is a page, not a link"
			continue
		fi
		if grep -Eq "^\.Nm ${name%.*}( |\$)" "$tpath"; then
			ok "$name: link to $tname, which documents ${name%.*}"
		else
			not_ok "$name: link to $tname, which documents ${name%.*}"
			echo "# no '.Nm ${name%.*}' line in $tname"
		fi
		continue
	fi
	[ -n "$linter" ] || continue
	if [ "$linter" = mandoc ]; then
		"$MANDOC" -Tlint -W warning "$f" >"$tmp/lint" 2>&1
	else
		"$GROFF" -mdoc -ww -z "$f" >"$tmp/lint" 2>&1
	fi
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$tmp/lint" ]; then
		ok "$name: $linter lint"
	else
		not_ok "$name: $linter lint (exit $rc)"
		diag "$tmp/lint"
	fi
done

# ---------------------------------------------------------------- API coverage
# Function names declared in the public header, comments stripped first so
# that mentions in prose do not count.
if [ -f "$header" ]; then
	funcs=$(awk '
		{
			line = $0; out = ""
			while (line != "") {
				if (incomment) {
					i = index(line, "*/")
					if (i == 0) { line = ""; break }
					line = substr(line, i + 2); incomment = 0
				} else {
					i = index(line, "/*")
					if (i == 0) { out = out line; break }
					out = out substr(line, 1, i - 1)
					line = substr(line, i + 2); incomment = 1
				}
			}
			sub(/\/\/.*/, "", out)
			while (match(out, /slab_[a-z0-9_]*[ \t]*\(/)) {
				name = substr(out, RSTART, RLENGTH)
				sub(/[ \t]*\($/, "", name)
				print name
				out = substr(out, RSTART + RLENGTH)
			}
		}' "$header" | sort -u)
else
	funcs=
fi
if [ -z "$funcs" ]; then
	not_ok "functions found in $header"
fi
for fn in $funcs; do
	if [ -f "$mandir/$fn.3" ]; then
		ok "$fn has man/$fn.3"
	else
		not_ok "$fn has man/$fn.3"
	fi
	if [ -f "$mandir/shmslab.3" ] &&
	    grep -Eq "(^|[^A-Za-z0-9_])$fn([^A-Za-z0-9_]|\$)" "$mandir/shmslab.3"; then
		ok "$fn is mentioned in shmslab.3"
	else
		not_ok "$fn is mentioned in shmslab.3"
	fi
done

# ---------------------------------------------------------------- distribution
# Every page is installed and distributed, and every listed page exists.
if [ -f "$srcdir/Makefile.am" ]; then
	listed=$(awk '
		/^dist_man_MANS[ \t]*=/ { on = 1; sub(/^[^=]*=/, "") }
		on {
			cont = /\\$/
			sub(/\\$/, "")
			for (i = 1; i <= NF; i++) print $i
			if (!cont) on = 0
		}' "$srcdir/Makefile.am" | sort)
	present=$(for f in $pages; do echo "man/${f##*/}"; done | sort)
	if [ "$listed" = "$present" ]; then
		ok "man/ matches dist_man_MANS"
	else
		not_ok "man/ matches dist_man_MANS"
		printf '%s\n' "$listed" >"$tmp/listed"
		printf '%s\n' "$present" >"$tmp/present"
		comm -23 "$tmp/listed" "$tmp/present" | sed 's/^/# listed, missing: /'
		comm -13 "$tmp/listed" "$tmp/present" | sed 's/^/# present, not listed: /'
	fi
fi

done_testing
