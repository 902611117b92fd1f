#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# img-binfmt: usage, architectures it knows, files, natively run programs;
# a foreign architecture registered with F (which a chroot needs); a
# working entry never removed; one build's aarch64 programs going on while
# another build starts.

bats_require_minimum_version 1.5.0
load test_helper

B=/proc/sys/fs/binfmt_misc

setup() {
	common_setup
	T=$(cd -- "$T" && pwd -P)
	export T
	BG=
	# Entries this test registered, removed in teardown.
	MADE=()
}

teardown() {
	local e
	[ -z "$BG" ] || { kill -9 "$BG" 2>/dev/null || true; wait "$BG" 2>/dev/null || true; }
	for e in "${MADE[@]}"; do
		[ ! -e "$B/$e" ] || echo -1 >"$B/$e"
	done
	block_cleanup
	assert_nothing_left
}

@test "--help, --version; usage errors exit 2 with one line" {
	run img-binfmt --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Usage: img-binfmt [OPTION]... ARCH|FILE" ]]
	run img-binfmt --version
	[ "$status" -eq 0 ]
	[[ $output == "img-binfmt "* ]]
	run --separate-stderr img-binfmt
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-binfmt: no architecture given" ]
	run --separate-stderr img-binfmt arm64 armhf
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-binfmt: one architecture or file, please" ]
	run --separate-stderr img-binfmt sparc42
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-binfmt: unknown architecture 'sparc42' (a Debian architecture such as arm64 or armhf)" ]
	run --separate-stderr img-binfmt --bogus
	[ "$status" -eq 2 ]
}

@test "a file: not ELF, missing; this host's own programs need nothing" {
	printf 'not a program\n' >"$T/text"
	run --separate-stderr img-binfmt "$T/text"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-binfmt: '$T/text' is not an ELF program" ]
	run --separate-stderr img-binfmt "$T/missing"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-binfmt: cannot read '$T/missing': No such file or directory" ]
	run --separate-stderr img-binfmt -v /bin/sh
	[ "$status" -eq 0 ]
	[[ $stderr == "img-binfmt: '/bin/sh' is one of the "*" programs, which this "*" host runs itself" ]]
	[ "$(uname -m)" = x86_64 ] || skip "the rest is for x86-64 hosts"
	run --separate-stderr img-binfmt -v amd64
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-binfmt: amd64 has x86-64 programs, which this x86-64 host runs itself" ]
	run --separate-stderr img-binfmt i386
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "arm64: programs run, through an entry with the F flag, in a chroot that holds no emulator" {
	require_root
	[ "$(uname -m)" != aarch64 ] || skip "needs a host that is not aarch64"
	[ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || [ -f /usr/share/binfmts/qemu-aarch64 ] || skip "no qemu-user-static"
	run --separate-stderr img-binfmt arm64
	[ "$status" -eq 0 ]
	grep -l '^flags: .*F' "$B"/qemu-aarch64 "$B"/rtik-qemu-aarch64 2>/dev/null | grep -q .
	# A chroot with the fixture's arm64 busybox and nothing else.
	local img
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	img-loop -q --state "$T/s" "$T/img" >/dev/null
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ >/dev/null
	[ -z "$(find "$T/root" -xdev -name 'qemu-*')" ]
	run chroot "$T/root" /bin/sh -c 'uname -m'
	[ "$status" -eq 0 ]
	[ "$output" = aarch64 ]
	img-umount -q --state "$T/s"
}

# A riscv64 entry of our own making stands for one that another tool
# registered without F; riscv64, so that nothing else is disturbed.
@test "a working entry without F stays: the F entry is registered beside it; a broken one is replaced" {
	require_root
	local conf=/usr/lib/binfmt.d/qemu-riscv64.conf line
	[ -f "$conf" ] || skip "no qemu-user-static riscv64 entry"
	[ ! -e "$B/qemu-riscv64" ] && [ ! -e "$B/rtik-qemu-riscv64" ] || skip "riscv64 is registered on this host already"
	MADE=(qemu-riscv64 rtik-qemu-riscv64)
	# binfmt.d's line, without the F flag.
	line=$(grep -v '^#' "$conf" | sed 's/:[A-Z]*$/:P/')
	echo "$line" >"$B/register"
	grep -q '^flags: P$' "$B/qemu-riscv64"

	run --separate-stderr img-binfmt riscv64
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-binfmt: registered binfmt_misc entry 'rtik-qemu-riscv64' from '$conf' to run riscv64 programs" ]
	grep -qx enabled "$B/qemu-riscv64"
	grep -q '^flags: P$' "$B/qemu-riscv64"
	grep -q '^flags: .*F' "$B/rtik-qemu-riscv64"
	# Again: nothing to do.
	run --separate-stderr img-binfmt riscv64
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]

	# An entry whose emulator is gone works for nobody: replaced.
	echo -1 >"$B/rtik-qemu-riscv64"
	echo -1 >"$B/qemu-riscv64"
	echo "$line" | sed 's|:[^:]*:P$|:/nonexistent/qemu-riscv64:P|' >"$B/register"
	run --separate-stderr img-binfmt riscv64
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-binfmt: registered binfmt_misc entry 'qemu-riscv64' from '$conf' to run riscv64 programs" ]
	grep -q '^flags: .*F' "$B/qemu-riscv64"
	[ ! -e "$B/rtik-qemu-riscv64" ]
}

@test "a long aarch64 run in one container goes on while a second build starts img-nspawn-run" {
	require_root
	[ "$(uname -m)" != aarch64 ] || skip "needs a host that is not aarch64"
	local i
	for i in 1 2; do
		cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img$i"
		img-loop -q --state "$T/s$i" "$T/img$i" >/dev/null
		img-mount -q --state "$T/s$i" --root "$T/root$i" --mount 2:/ >/dev/null
	done
	# The first runs aarch64 programs for a few seconds, one after another.
	img-nspawn-run -q --root "$T/root1" -- /bin/sh -c \
		'for i in 1 2 3 4 5 6; do sleep 1; uname -m >/dev/null || exit 9; done; echo alive' \
		>"$T/first.out" 2>"$T/first.err" &
	BG=$!
	sleep 2
	run img-nspawn-run -q --root "$T/root2" uname -m
	[ "$status" -eq 0 ]
	[ "$output" = aarch64 ]
	wait "$BG"
	BG=
	cat "$T/first.err" >&2
	[ "$(cat "$T/first.out")" = alive ]
	for i in 1 2; do
		img-umount -q --state "$T/s$i"
	done
}
