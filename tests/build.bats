#!/usr/bin/env bats
# The build system: make install lays out tools, man pages and mk fragments,
# and a Makefile of the user's own can include the installed fragments.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
}

@test "make install puts tools, man pages and mk fragments under PREFIX" {
	make -C "$TOP" --no-print-directory -s O="$T/build" install DESTDIR="$T/root" PREFIX=/usr >/dev/null
	for tool in img-fetch img-extract; do
		[ -x "$T/root/usr/bin/$tool" ]
		[ -f "$T/root/usr/share/man/man1/$tool.1" ]
		"$T/root/usr/bin/$tool" --version
	done
	[ -f "$T/root/usr/share/rt-image-kit/mk/tools.mk" ]
}

@test "a user's Makefile includes the installed tools.mk" {
	make -C "$TOP" --no-print-directory -s O="$T/build" install DESTDIR="$T/root" PREFIX=/usr >/dev/null
	cat >"$T/Makefile" <<MK
include $T/root/usr/share/rt-image-kit/mk/tools.mk
show:
	@echo "\$(IMG_FETCH)"
MK
	run make -s -C "$T" show
	[ "$status" -eq 0 ]
	[ "$output" = "img-fetch" ]
}

@test "in the source tree tools.mk points at the built tools" {
	[ -x "$TOP/build/bin/img-fetch" ] || skip "no build/bin (run make first)"
	cat >"$T/Makefile" <<MK
include $TOP/mk/tools.mk
show:
	@echo "\$(IMG_EXTRACT)"
MK
	run make -s -C "$T" show
	[ "$status" -eq 0 ]
	[ "$output" = "$TOP/build/bin/img-extract" ]
}

@test "every tool has a man page" {
	for tool in "$TOP"/tools/img-*.c; do
		tool=$(basename "$tool" .c)
		[ -f "$TOP/man/$tool.1.scd" ] || { echo "no man page for $tool" >&2; return 1; }
	done
}

@test "make install also installs the stage helper beside image.mk" {
	make -C "$TOP" --no-print-directory -s O="$T/build" install DESTDIR="$T/root" PREFIX=/usr >/dev/null
	[ -f "$T/root/usr/share/rt-image-kit/mk/image.mk" ]
	[ -x "$T/root/usr/share/rt-image-kit/mk/rtik-stage" ]
}

@test "shipped shell passes shellcheck" {
	command -v shellcheck >/dev/null || skip "no shellcheck"
	local files
	mapfile -t files < <(cd "$TOP" && { ls mk/rtik-stage mk/bootstrap-hooks mk/rtik-latency-report scripts/* bench/* tests/fixtures/mkfixture tests/*.bash; \
		find images overlays -type f \( -name '*.sh' -o -perm -u+x \) 2>/dev/null; } | sort -u)
	cd "$TOP"
	shellcheck -x "${files[@]}"
}

@test "the suites' negated assertions can fail: no bare '! command' (shellcheck SC2314, SC2315)" {
	command -v shellcheck >/dev/null || skip "no shellcheck"
	# bats fails a test on a command's status through set -e, which a
	# command negated with ! never triggers: '! cmd || false' does.
	shellcheck -i SC2314,SC2315 "$TOP"/tests/*.bats
}
