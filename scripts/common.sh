# scripts/common.sh - shared by demo.sh and test.sh: install what the build
# needs (apt-get when root, else print the exact command), and build.
# Sourced, not run.

SHMSLAB_PACKAGES="build-essential autoconf automake libtool pkg-config \
libevent-dev libprotobuf-c-dev protobuf-c-compiler libnuma-dev mandoc \
clang libclang-rt-14-dev python3"

top=$(cd "$(dirname "$0")/.." && pwd)

ensure_packages() {
	missing=""
	for p in $SHMSLAB_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "==> installing:$missing"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing
	else
		echo "These Debian packages are missing:$missing" >&2
		echo "Install them, then run this again:" >&2
		echo "  sudo apt-get install -y$missing" >&2
		exit 1
	fi
}

# build DIR [configure options...]: out-of-tree build under $top/DIR.
build() {
	dir="$top/$1"
	shift
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	   [ ! -f "$top/build-aux/tap-driver.sh" ]; then
		echo "==> generating configure"
		(cd "$top" && ./autogen.sh >/dev/null 2>&1) ||
			{ echo "autogen.sh failed" >&2; exit 1; }
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$dir/config.status" -ot "$top/configure" ] ||
	   [ "$(cat "$dir/.configure-args" 2>/dev/null)" != "$*" ]; then
		echo "==> configuring in $dir $*"
		(cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) ||
			{ tail -20 "$dir/configure.out" >&2; exit 1; }
		echo "$*" >"$dir/.configure-args"
	fi
	echo "==> building in $dir"
	make -C "$dir" -j"$(nproc)" >"$dir/make.out" 2>&1 ||
		{ tail -40 "$dir/make.out" >&2; exit 1; }
}
