#!/bin/sh
#
# test_conf.sh - slabd's configuration file (slabd.conf(5)) and SIGHUP.
#
# Run by make check with SLABD, TEST_BUILDDIR and TEST_SRCDIR.  Daemons
# run on sockets in a private temporary directory with --hugepages=never
# -m 16M; a trap stops them.  Prints TAP, plan last; exits 1 if any case
# failed.  Never reads /etc: every file is written here.
#
#   - every key parses, and --print-config prints it back;
#   - the command line overrides the file, a list included;
#   - a bad value, an unknown key, a command-line-only key, a line with no
#     '=', a relative path, a missing file, bad quota lines: exit 2,
#     "FILE:LINE: key:";
#   - a daemon takes its socket and mode from the file;
#   - SIGHUP: a live key changes and is logged "key: old -> new", a key
#     that needs a restart is logged as ignored, a bad file changes
#     nothing and is logged.  (That the allow list really changes who is
#     served is tested in test_reload.c.)

set -u

: "${SLABD:?SLABD must name the slabd binary}"

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
unset SLABD_SOCKET
setup_tmp test_conf

conf=$tmp/slabd.conf

# ---------------------------------------------------------------- every key

cat >"$conf" <<EOF
# every key, with a value that is not its default
socket = $tmp/file.sock
size = 24M	# rounded to 2 MiB pages
foreground = yes
verbose = on
log = stderr
pidfile = $tmp/file.pid
socket-mode = 0600
socket-group = 0
allow-uid = 0,12345
allow-uid = 12346
allow-gid = 0
max-clients = 50
max-clients-per-uid = 40
hello-timeout = 7
idle-timeout = 0
hugepages = never

nodes = 0
base-address = 0x600000000000
slot-guard = cas
harden-freelists = yes
no-sheaves = yes
sheaf-capacity = 31
fake-numa = 2
quota-uid-default = 1G
quota-uid = 0:512M,12345:none
quota-uid = 12346 64K	# a blank instead of the colon
quota-uid = 0:1536M	# replaces uid 0's line above
quota-client = 262144
EOF
run print "$SLABD" -c "$conf" --print-config
want="socket = $tmp/file.sock
size = 24M
foreground = yes
verbose = yes
log = stderr
pidfile = $tmp/file.pid
socket-mode = 0600
socket-group = 0
allow-uid = 0,12345,12346
allow-gid = 0
max-clients = 50
max-clients-per-uid = 40
hello-timeout = 7
idle-timeout = 0
hugepages = never
# hugetlbfs: none
nodes = 0
base-address = 0x600000000000
slot-guard = cas
harden-freelists = yes
no-sheaves = yes
sheaf-capacity = 31
fake-numa = 2
quota-uid-default = 1G
quota-uid = 0:1536M,12345:none,12346:64K
quota-client = 256K"
got=$(grep -v '^# read from' "$tmp/print.out")
if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ ! -s "$tmp/print.err" ]; then
	ok "every key parses from the file, --print-config prints it back"
else
	not_ok "every key parses from the file, --print-config prints it back"
	echo "# exit $rc"
	printf '%s\n' "$want" >"$tmp/want"
	diff "$tmp/want" "$tmp/print.out" | sed 's/^/# /'
	diag "$tmp/print.err" "stderr: "
fi

# hugetlbfs contradicts hugepages = never: a file of its own
printf 'hugetlbfs = /dev/hugepages\n' >"$tmp/tlb.conf"
run tlb "$SLABD" -c "$tmp/tlb.conf" --print-config
check "hugetlbfs parses from the file" \
    grep -qx "hugetlbfs = /dev/hugepages" "$tmp/tlb.out"

# The printed configuration reads back to itself.
grep -v '^#' "$tmp/print.out" >"$tmp/again.conf"
run again "$SLABD" -c "$tmp/again.conf" --print-config
if [ $rc -eq 0 ] &&
    [ "$(grep -v '^# read from' "$tmp/again.out")" = "$want" ]; then
	ok "--print-config output is a configuration file that reads back"
else
	not_ok "--print-config output is a configuration file that reads back"
	diag "$tmp/again.err" "stderr: "
fi

# ---------------------------------------------------------------- precedence

run over "$SLABD" -c "$conf" --max-clients 77 --allow-uid 999 -m 32M \
    --print-config
if [ $rc -eq 0 ] && grep -qx "max-clients = 77" "$tmp/over.out" &&
    grep -qx "allow-uid = 999" "$tmp/over.out" &&
    grep -qx "size = 32M" "$tmp/over.out" &&
    grep -qx "hello-timeout = 7" "$tmp/over.out"; then
	ok "the command line overrides the file, key by key, lists replaced"
else
	not_ok "the command line overrides the file, key by key, lists replaced"
	diag "$tmp/over.out" "stdout: "
	diag "$tmp/over.err" "stderr: "
fi

# The order on the command line does not matter: -c last still loses.
run late "$SLABD" --max-clients 78 -c "$conf" --print-config
check "-c after an option: the option still wins" \
    grep -qx "max-clients = 78" "$tmp/late.out"

# ---------------------------------------------------------------- errors

# conf_error DESCRIPTION EXPECTED LINE...: a file of those lines gives exit
# 2, the expected text and "Try 'slabd --help'" on stderr, nothing else.
conf_error() {
	_desc=$1
	_want=$2
	shift 2
	printf '%s\n' "$@" >"$tmp/bad.conf"
	run bad "$SLABD" -c "$tmp/bad.conf" -f -s "$tmp/bad.sock" \
	    --hugepages=never -m 16M
	if [ $rc -eq 2 ] && has "$tmp/bad.err" "$_want" &&
	    has "$tmp/bad.err" "Try 'slabd --help'" &&
	    [ ! -s "$tmp/bad.out" ] && [ ! -e "$tmp/bad.sock" ]; then
		ok "file error, $_desc: exit 2, names $_want"
	else
		not_ok "file error, $_desc: exit 2, names $_want"
		echo "# exit $rc"
		diag "$tmp/bad.err" "stderr: "
	fi
}

conf_error "bad value" "$tmp/bad.conf:2: max-clients: '0' is not a number" \
    "# comment" "max-clients = 0"
conf_error "unknown key" "$tmp/bad.conf:3: no-such-key: unknown key" \
    "" "hello-timeout = 3" "no-such-key = 1"
conf_error "command-line-only key" "$tmp/bad.conf:1: config: unknown key" \
    "config = /x"
conf_error "line without '='" "$tmp/bad.conf:1: 'size 16M': expected key = value" \
    "size 16M"
conf_error "no value" "$tmp/bad.conf:1: socket: no value" "socket ="
conf_error "relative path" "$tmp/bad.conf:1: pidfile: 'x.pid' is not an absolute path" \
    "pidfile = x.pid"
conf_error "bad word" "$tmp/bad.conf:1: hugepages: 'maybe' is not try, require or never" \
    "hugepages = maybe"
conf_error "bad flag" "$tmp/bad.conf:1: verbose: 'loud' is not yes or no" \
    "verbose = loud"
conf_error "unknown user" "$tmp/bad.conf:1: allow-uid: no user 'no_such_user_xyz'" \
    "allow-uid = no_such_user_xyz"
conf_error "quota of 0" "$tmp/bad.conf:1: quota-client: '0' is not a quota: expected none or a size of at least 4K" \
    "quota-client = 0"
conf_error "quota below a page" "$tmp/bad.conf:2: quota-uid-default: '4095' is not a quota" \
    "quota-client = none" "quota-uid-default = 4095"
conf_error "quota with a bad suffix" "$tmp/bad.conf:1: quota-uid: '1G5' is not a quota" \
    "quota-uid = 1000:1G5"
conf_error "quota-uid without a size" "$tmp/bad.conf:1: quota-uid: '1000' is not USER:SIZE" \
    "quota-uid = 1000"
conf_error "quota-uid without a user" "$tmp/bad.conf:1: quota-uid: ':1M' is not USER:SIZE" \
    "quota-uid = :1M"
conf_error "quota-uid of an unknown user" "$tmp/bad.conf:1: quota-uid: no user 'no_such_user_xyz'" \
    "quota-uid = no_such_user_xyz:1M"
conf_error "quota-uid, one bad entry of a list" "$tmp/bad.conf:1: quota-uid: 'lots' is not a quota" \
    "quota-uid = 1000:1M,1001:lots"
# a key the command line overrides must still be valid in the file
conf_error "bad value under a command-line override" \
    "$tmp/bad.conf:1: size: '3x' is not a size" "size = 3x"

run missing "$SLABD" -c "$tmp/no-such.conf" -f -s "$tmp/bad.sock"
if [ $rc -eq 2 ] &&
    has "$tmp/missing.err" "cannot read configuration file $tmp/no-such.conf" &&
    [ ! -e "$tmp/bad.sock" ]; then
	ok "missing file: exit 2, names the file"
else
	not_ok "missing file: exit 2, names the file"
	diag "$tmp/missing.err" "stderr: "
fi

# ---------------------------------------------------------------- dist/

# The example installed with the unit parses (its group may not exist
# here: the one key that names a group is given by number).
sed 's/^socket-group = .*/socket-group = 0/' \
    "$TEST_SRCDIR/dist/slabd.conf.example" >"$tmp/example.conf"
run example "$SLABD" -c "$tmp/example.conf" --print-config
if [ $rc -eq 0 ] && grep -qx "socket = /run/shmslab/slabd.sock" \
    "$tmp/example.out"; then
	ok "dist/slabd.conf.example parses"
else
	not_ok "dist/slabd.conf.example parses"
	diag "$tmp/example.err" "stderr: "
fi

unit=${TEST_BUILDDIR:-.}/dist/slabd.service
if [ ! -f "$unit" ]; then
	skip "slabd.service passes systemd-analyze verify" "no dist/slabd.service built"
elif ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "slabd.service passes systemd-analyze verify" "no systemd-analyze"
else
	# this build's slabd, since the unit names the installed one
	sed "s|^ExecStart=[^ ]*|ExecStart=$SLABD|" "$unit" >"$tmp/slabd.service"
	systemd-analyze verify --man=no "$tmp/slabd.service" \
	    >"$tmp/verify.out" 2>&1
	vrc=$?
	if [ $vrc -eq 0 ] && [ ! -s "$tmp/verify.out" ]; then
		ok "slabd.service passes systemd-analyze verify"
	else
		not_ok "slabd.service passes systemd-analyze verify"
		diag "$tmp/verify.out" "verify: "
	fi
fi
if [ -f "$unit" ] && grep -qx "Type=notify" "$unit" &&
    grep -qx "RuntimeDirectory=shmslab" "$unit" &&
    grep -q "^ExecStart=.*/slabd -f -c .*/shmslab/slabd.conf$" "$unit" &&
    ! grep -q "@[a-z]*@" "$unit"; then
	ok "slabd.service: Type=notify, /run/shmslab, -c slabd.conf, paths filled in"
else
	not_ok "slabd.service: Type=notify, /run/shmslab, -c slabd.conf, paths filled in"
fi

# ---------------------------------------------------------------- a daemon from the file

cat >"$conf" <<EOF
socket = $tmp/run.sock
socket-mode = 0600
max-clients = 10
EOF
omit_s=1
if start file "$tmp/run.sock" -c "$conf"; then
	mode=$(stat -c %a "$tmp/run.sock")
	check "the daemon listens on the file's socket with the file's mode" \
	    [ "$mode" = 600 ]

	# ---------------------------------------------------------- SIGHUP
	cat >"$conf" <<EOF
socket = $tmp/run.sock
socket-mode = 0600
max-clients = 20
allow-uid = 0,4242
hello-timeout = 3
socket-group = 0
EOF
	kill -HUP "$pid"
	if poll has "$tmp/file.err" "allow-uid: none -> 0,4242" &&
	    has "$tmp/file.err" "max-clients: 10 -> 20 needs a restart; ignored until then" &&
	    has "$tmp/file.err" "hello-timeout: 5 -> 3" &&
	    has "$tmp/file.err" "SIGHUP: configuration reloaded from $conf: 2 changes applied" &&
	    has "$tmp/file.err" "socket-group: none -> 0 needs a restart; ignored until then" &&
	    poll has "$tmp/file.err" "SIGHUP: configuration reloaded" &&
	    alive "$pid"; then
		ok "SIGHUP: live keys logged old -> new, a restart key logged as ignored"
	else
		not_ok "SIGHUP: live keys logged old -> new, a restart key logged as ignored"
		diag "$tmp/file.err" "slabd: "
	fi

	printf 'idle-timeout = 60\nmax-clients = oops\n' >"$conf"
	kill -HUP "$pid"
	if poll has "$tmp/file.err" "$conf:2: max-clients: 'oops' is not a number" &&
	    poll has "$tmp/file.err" "nothing changed" &&
	    ! has "$tmp/file.err" "idle-timeout: 30 -> 60" && alive "$pid"; then
		ok "SIGHUP with a bad file: the error logged, nothing changed"
	else
		not_ok "SIGHUP with a bad file: the error logged, nothing changed"
		diag "$tmp/file.err" "slabd: "
	fi

	# the next good file is compared with what runs, not with the bad one
	cat >"$conf" <<EOF
socket = $tmp/run.sock
socket-mode = 0600
max-clients = 10
allow-uid = 0,4242
hello-timeout = 4
socket-group = 0
EOF
	kill -HUP "$pid"
	if poll has "$tmp/file.err" "hello-timeout: 3 -> 4" &&
	    [ "$(grep -c "max-clients: 10 -> 20" "$tmp/file.err")" = 1 ]; then
		ok "SIGHUP after a bad file: changes counted from the running settings"
	else
		not_ok "SIGHUP after a bad file: changes counted from the running settings"
		diag "$tmp/file.err" "slabd: "
	fi
	stop "$pid"
	check "SIGTERM after reloads: exit 0" [ "$rc" -eq 0 ]
else
	not_ok "the daemon listens on the file's socket with the file's mode"
fi
omit_s=0

done_testing
