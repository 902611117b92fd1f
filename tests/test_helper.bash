# shellcheck shell=bash
# Shared by every test file: `load test_helper`.
#
#   TOP            the repository root
#   PATH           starts with $RTIK_BIN (default: $TOP/build/bin)
#   common_setup   call from setup(): exports T, this test's own temp dir
#   require_root   skip the test unless it runs as root
#   fixture NAME   print the absolute path of fixture NAME, building the
#                  set in $RTIK_FIXTURES (default: $TOP/build/fixtures)
#                  the first time (see tests/fixtures/mkfixture)
#   http_*         a local HTTP server, see tests/http_helper.bash

# From this file rather than BATS_TEST_DIRNAME, so test files in
# subdirectories work too.
# Tests run make themselves: not as a sub-make of whatever ran bats (make
# check), whose flags and level would change make's behaviour and messages.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

TOP=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
export TOP

_rtik_bin=${RTIK_BIN:-$TOP/build/bin}
case $_rtik_bin in
/*) ;;
*) _rtik_bin=$PWD/$_rtik_bin ;;
esac
PATH=$_rtik_bin:$PATH
export PATH
unset _rtik_bin

common_setup() {
	T=$BATS_TEST_TMPDIR
	export T
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

fixture() {
	local name=${1:?usage: fixture NAME}
	local dir=${RTIK_FIXTURES:-$TOP/build/fixtures}
	# mkfixture takes a lock in the directory and returns at once when the
	# set is current, so parallel test files build it only once.
	"$TOP/tests/fixtures/mkfixture" "$dir" || {
		echo "fixture: building the fixtures in $dir failed" >&2
		return 1
	}
	dir=$(cd -- "$dir" && pwd)
	[ -f "$dir/$name" ] || {
		echo "fixture: no fixture named '$name' in $dir" >&2
		return 1
	}
	printf '%s\n' "$dir/$name"
}

# shellcheck source-path=SCRIPTDIR source=http_helper.bash disable=SC1091
source "$TOP/tests/http_helper.bash"

# For tests that attach loop devices or mount: call from teardown(), which
# bats runs even when the test failed. Undoes everything under $T with
# img-umount --all, then with util-linux directly in case img-umount itself
# is what broke, so a failing test never leaves kernel state behind.
block_cleanup() {
	local dir=${1:-${T-}} m l
	[ -n "$dir" ] || return 0
	img-umount --all "$dir" >/dev/null 2>&1 || true
	# Deepest first.
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	while read -r l; do
		losetup -d "$l" 2>/dev/null || true
	done < <(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$dir" 'index($2, d "/") == 1 { print $1 }')
}

# Fails if anything under DIR (default $T) is still mounted or attached.
assert_nothing_left() {
	local dir=${1:-$T} left
	left=$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print "mount: " $5 }' /proc/self/mountinfo
		losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$dir" 'index($2, d "/") == 1 { print "loop: " $0 }')
	[ -z "$left" ] || { echo "left behind:" >&2; echo "$left" >&2; return 1; }
}
