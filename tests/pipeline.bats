#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# mk/image.mk end to end, on the test recipe in tests/recipes/fixture: the
# vendor-like fixture served by a local lighttpd, grown, overlaid and run
# through both phases. A full build, resuming after a failure, reruns after
# an edit, `make STAGE`, SIGKILL, two builds at once, the errors, and the
# clean targets.
#
# Every test builds under $T and names its server, build dir, cache and
# output on the make command line, so the source tree is never written to.
# A test that edits a script edits a copy of the recipe in $T/fixture.

bats_require_minimum_version 1.5.0
load pipeline_helper

# --- a build ----------------------------------------------------------------------

@test "a full build: stages in order, a log each, times and sizes at the end; the output holds the overlay and the scripts' work" {
	[ ! -e "$OUT" ]
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(stages)" = "${STAGES[*]}" ]
	# A line per stage as it starts (the tools' output is in the logs),
	# then the summary: a line per stage, then the size of the output.
	local n=${#lines[@]} k s
	[ "$(printf '%s\n' "${lines[@]:0:n-11}")" = "$(printf '>>> fixture: %s\n' "${STAGES[@]}")" ]
	[ "${lines[n - 11]}" = "fixture: time per stage (s)" ]
	k=$((n - 10))
	for s in "${STAGES[@]}"; do
		[[ ${lines[k]} =~ ^\ \ $s\ +[0-9]+\.[0-9]$ ]]
		k=$((k + 1))
	done
	[[ ${lines[n - 1]} =~ ^fixture:\ "$OUT":\ 192M\ \([0-9.]+[KM]\ on\ disk\)$ ]]
	# A log per stage that ran; attach and mount are state, not stages.
	[ "$(find "$T/build/logs" -mindepth 1 -printf '%f\n' | sort | paste -sd' ')" = "01-fetch.log 02-extract.log 03-grow.log 06-overlay.log 07-phase1-host.log 08-phase1-target.log 09-phase2-host.log 10-phase2-target.log 11-finish.log times" ]
	grep -qx "phase1-target: running on aarch64" "$T/build/logs/08-phase1-target.log"
	grep -qx "phase2-target: run 1" "$T/build/logs/10-phase2-target.log"
	grep -qx "fixture: time per stage (s)" "$T/build/logs/11-finish.log"
	# phase2-host fails if OUTPUT was there before finish; after it, it
	# is, whole.
	[ -f "$OUT" ]
	[ ! -e "$OUT.part" ]
	[ "$(stat -c %s "$OUT")" -eq $((192 << 20)) ]
	assert_nothing_left
	output_check "$OUT" view 1
	assert_nothing_left
}

@test "V=1 shows a stage's whole output live; without it the log has it, and warnings still reach the terminal" {
	mk >/dev/null
	local log=$T/build/logs/08-phase1-target.log
	run --separate-stderr mk V=1 phase1-target
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = ">>> fixture: phase1-target" ]
	grep -qx "phase1-target: running on aarch64" <<<"$output"
	[ -z "$stderr" ]
	grep -qx "phase1-target: running on aarch64" "$log"

	run --separate-stderr mk WARN_PHASE1="low on coffee" phase1-target
	[ "$status" -eq 0 ]
	[ "$output" = $'>>> fixture: phase1-target\nphase1-target: warning: low on coffee' ]
	[ -z "$stderr" ]
	grep -qx "phase1-target: running on aarch64" "$log"
	grep -qx "phase1-target: warning: low on coffee" "$log"
	mk clean-mounts >/dev/null
	assert_nothing_left
}

# A copy of the recipe whose phase1-target says what it does, then works 5 s.
slow_recipe() {
	recipe_copy
	sed -i 's/^uname -m/echo "phase1-target: working"\nsleep 5\n&/' "$R/setup/20-phase1-target.sh"
}

@test "a long stage shows its progress: on a terminal one line rewritten in place, the step and the time" {
	slow_recipe
	local q cmd
	printf -v cmd '%q ' make --no-print-directory -C "$R" "${VARS[@]}"
	script -qfec "$cmd" "$T/typescript" >/dev/null 2>&1
	q=$(tr -d '\r' <"$T/typescript")
	# Rewritten: a carriage return and an erase, no new line, once a second
	# at most; the time goes on.
	[ "$(grep -ao $'\r\033\\[Kphase1-target: phase1-target: working (0:0[0-9])' "$T/typescript" | sort -u | wc -l)" -ge 2 ]
	[ "$(grep -ao $'\r\033\\[Kphase1-target: phase1-target: working (0:0[0-9])' "$T/typescript" | sort | uniq -d | wc -l)" -eq 0 ]
	! grep -q '^\.\.\. ' <<<"$q" || false
	# Gone before the next stage's line, which starts a line of its own.
	[[ $(cat "$T/typescript") == *$'\033[K>>> fixture: phase2-host'* ]]
	[ -f "$OUT" ]
}

@test "a long stage shows its progress without a terminal too: plain lines, never more often than RTIK_PROGRESS_INTERVAL" {
	slow_recipe
	run --separate-stderr env RTIK_PROGRESS_INTERVAL=2 make --no-print-directory -C "$R" "${VARS[@]}"
	[ "$status" -eq 0 ]
	[[ $output != *$'\r'* && $output != *$'\033'* ]]
	mapfile -t prog < <(grep '^\.\.\. phase1-target: ' <<<"$output")
	[ "${#prog[@]}" -ge 1 ]
	# The stage's current step, its last line: on a loaded machine the
	# first may still be one of img-nspawn-run's, before the script's own.
	[[ ${prog[0]} =~ ^\.\.\.\ phase1-target:\ .*\ \(0:0[3-9]\)$ ]]
	printf '%s\n' "${prog[@]}" | grep -Eq '^\.\.\. phase1-target: phase1-target: working \(0:[0-9]{2}\)$'
	# However loaded the machine, never two within the interval.
	local l t last=-10
	for l in "${prog[@]}"; do
		t=$(sed -E 's/.*\(([0-9]+):([0-9]+)\)$/\1 * 60 + 1\2 - 100/' <<<"$l")
		t=$((t))
		[ $((t - last)) -ge 2 ]
		last=$t
	done
	# The default: every 30 s, so none here.
	run --separate-stderr mk phase1-target
	[ "$status" -eq 0 ]
	! grep -q '^\.\.\. ' <<<"$output" || false
	mk clean-mounts >/dev/null
}

@test "the bootstrap's progress: packages downloaded, unpacked and configured out of how many, from mmdebstrap's and apt's lines" {
	# A recipe from nothing whose mmdebstrap is a stand-in that says what
	# mmdebstrap --verbose says, slowly.
	mkdir -p "$T/recipe" "$T/bin" "$T/mirror/dists/fake"
	: >"$T/mirror/dists/fake/Release"
	cat >"$T/recipe/Makefile" <<-MK
		IMAGE_LAYOUT := dos ext4:rest:ROOT
		IMAGE_SIZE := 64M
		IMAGE_PARTITIONS := 1:/
		IMAGE_SUITE := fake
		IMAGE_ARCH := arm64
		IMAGE_MIRROR := file://$T/mirror
		include $TOP/mk/image.mk
	MK
	cat >"$T/bin/mmdebstrap" <<-'SH'
		#!/bin/sh
		echo "I: downloading packages with apt..."
		echo "0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded."
		echo "Get:1 http://deb.example/debian fake/main arm64 a arm64 1 [1000 B]"
		echo "Get:2 http://deb.example/debian fake/main arm64 c arm64 1 [1000 B]"
		echo "I: installing essential packages..."
		echo "Unpacking a (1) ..."
		echo "dpkg: warning: ignoring pre-dependency problem!"
		echo "Unpacking c (1) ..."
		echo "Setting up a (1) ..."
		echo "I: installing remaining packages inside the chroot..."
		echo "0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded."
		sleep 4
		echo "Unpacking b (1) ..."
		echo "I: success"
	SH
	chmod +x "$T/bin/mmdebstrap"
	run --separate-stderr env PATH="$T/bin:$PATH" RTIK_PROGRESS_INTERVAL=1 \
		make --no-print-directory -C "$T/recipe" BUILD_DIR="$T/build" CACHE_DIR="$T/cache" bootstrap
	[ "$status" -eq 0 ]
	grep -Eq '^\.\.\. bootstrap: packages: 2 downloaded, 2/3 unpacked, 1/3 configured \(0:0[3-9]\)$' <<<"$output"
	# What dpkg says of mmdebstrap's --force-depends on purpose stays in the log.
	! grep -q "ignoring pre-dependency problem" <<<"$output" || false
	grep -q "ignoring pre-dependency problem" "$T/build/logs/02-bootstrap.log"
	make --no-print-directory -C "$T/recipe" BUILD_DIR="$T/build" clean-mounts >/dev/null
	assert_nothing_left
}

# A copy of the recipe whose phase1-target writes its PATH, and the version
# and machine of the sed and cp it was given. (busybox's sh runs its own
# applets before any on PATH; the shipped recipes' bash and dash do not.)
where_recipe() {
	recipe_copy
	cat >"$T/where.sh" <<-'SH'
		if [ -x /run/rtik-native/bin/sed ]; then
			{ echo "$PATH"; /run/rtik-native/bin/sed --version | head -n 1; od -An -tx2 -j18 -N2 /run/rtik-native/bin/cp; } >/etc/tools-marker
		else
			echo none >/etc/tools-marker
		fi
	SH
	sed -i "/^uname -m/e cat $T/where.sh" "$R/setup/20-phase1-target.sh"
}

@test "target scripts run the host's own cp, sed, zstd... where the image's are emulated; NATIVE_TOOLS=no runs the image's" {
	[ "$(uname -m)" != aarch64 ] || skip "the image's programs are this host's kind"
	where_recipe
	mk >/dev/null
	output_open "$OUT" v
	mapfile -t seen <"$T/v/etc/tools-marker"
	output_close v
	[[ ${seen[0]} == /run/rtik-native/bin:* ]]
	# This host's sed ("/run/rtik-native/bin/sed (GNU sed) 4.9"), run in the image.
	[[ ${seen[1]} == "/run/rtik-native/bin/$(sed --version | head -n 1)" ]]
	[ "${seen[2]}" = "$(od -An -tx2 -j18 -N2 /usr/bin/env)" ]
	# Nothing of them is left in the image.
	output_open "$OUT" v
	[ ! -e "$T/v/run/rtik-native" ]
	output_close v
	mk NATIVE_TOOLS=no phase1-target >/dev/null
	mk >/dev/null
	output_open "$OUT" v
	[ "$(cat "$T/v/etc/tools-marker")" = none ]
	output_close v
	assert_nothing_left
}

@test "mk/native-tools: nothing for a root of this host's kind or no root; one usage line" {
	local nt=$TOP/mk/native-tools
	run --separate-stderr "$nt" "$T/n" /
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ ! -e "$T/n" ]
	run --separate-stderr "$nt" "$T/n" "$T/nothing"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run --separate-stderr "$nt" "$T/n" --arch "$(dpkg --print-architecture)"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run --separate-stderr "$nt" "$T/n"
	[ "$status" -eq 2 ]
	[ "$stderr" = "usage: native-tools DIR ROOT|--arch ARCH" ]
	run --separate-stderr "$nt" "$T/n" --arch
	[ "$status" -eq 2 ]
	# A foreign one: a directory of programs, made once.
	[ "$(uname -m)" != aarch64 ] || return 0
	run --separate-stderr "$nt" "$T/n" --arch arm64
	[ "$status" -eq 0 ] && [ "$output" = "$T/n" ]
	[ -x "$T/n/bin/cp" ] && [ -f "$T/n/apt.conf" ] && [ ! -e "$T/n/bin/uname" ]
	[ "$(patchelf --print-interpreter "$T/n/bin/sed")" = "/run/rtik-native/lib/$(basename "$(patchelf --print-interpreter /usr/bin/env)")" ]
	touch -d '2000-01-01' "$T/n/bin/cp"
	"$nt" "$T/n" --arch arm64 >/dev/null
	[ "$(stat -c %Y "$T/n/bin/cp")" = "$(date -d 2000-01-01 +%s)" ]
}

@test "a no-op make on a finished image does nothing and mounts nothing" {
	mk >/dev/null
	local before out_before
	before=$(stamp_times "${STAGES[@]}")
	out_before=$(stat -c '%i %.9Y' "$OUT")
	cp "$T/build/logs/times" "$T/times.before"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$output" = "make: Nothing to be done for 'all'." ]
	[ -z "$stderr" ]
	[ "$(stamp_times "${STAGES[@]}")" = "$before" ]
	[ "$(stat -c '%i %.9Y' "$OUT")" = "$out_before" ]
	cmp "$T/build/logs/times" "$T/times.before"
	[ ! -e "$T/build/.stamp_attach" ]
	[ ! -e "$T/build/.stamp_mount" ]
	assert_nothing_left
}

# --- failing, and going on ----------------------------------------------------------

@test "phase1-target failing on purpose: one line naming the log and how to continue; no OUTPUT; without FAIL_PHASE1 the build goes on after overlay" {
	local log=$T/build/logs/08-phase1-target.log before
	run --separate-stderr mk FAIL_PHASE1=1
	[ "$status" -eq 2 ]
	[ "$(stages)" = "fetch extract grow overlay phase1-host phase1-target" ]
	failure_check phase1-target "$log" "phase1-target: failing on purpose (FAIL_PHASE1=1)"
	[[ ${stderr_lines[-1]} =~ ^make:\ \*\*\*\ \[.*/mk/image\.mk:[0-9]+:\ "$T"/build/\.stamp_phase1-target\]\ Error\ 3$ ]]
	[ ! -e "$OUT" ]
	[ ! -e "$OUT.part" ]
	[ ! -e "$T/build/.stamp_phase1-target" ]
	before=$(stamps_before phase1-host)

	# FAIL_PHASE1 is in IMAGE_ENV, which every phase script gets: so
	# phase1-host runs again too, and nothing before it.
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase1-host phase1-target phase2-host phase2-target finish" ]
	[ "$(stamps_before phase1-host)" = "$before" ]
	assert_nothing_left
	output_check "$OUT" view 1
}

@test "a failing script fixed by editing it: the build resumes exactly at its stage" {
	recipe_copy
	local script=$R/setup/20-phase1-target.sh before
	printf 'echo "phase1-target: broken by an edit" >&2\nexit 4\n' >>"$script"
	run --separate-stderr mk
	[ "$status" -eq 2 ]
	failure_check phase1-target "$T/build/logs/08-phase1-target.log" "phase1-target: broken by an edit"
	[ ! -e "$OUT" ]
	before=$(stamps_before phase1-target)

	cp "$TOP/tests/recipes/fixture/setup/20-phase1-target.sh" "$script"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase1-target phase2-host phase2-target finish" ]
	# fetch, extract, grow, overlay and phase1-host did not run again.
	[ "$(stamps_before phase1-target)" = "$before" ]
	output_check "$OUT" view 1
}

# The failure line offers the command that continues this build: with the
# variables of the command line, not a fresh build in the default BUILD_DIR.
@test "the continue command carries the variables given on the command line" {
	run --separate-stderr mk FAIL_PHASE1=1
	[ "$status" -eq 2 ]
	local line=${stderr_lines[-2]} cmd
	[[ $line =~ $(failed_line_re phase1-target "$T/build/logs/08-phase1-target.log") ]]
	cmd=${line#*"then run '"}
	cmd=${cmd%"' to continue"}
	echo "continue command: $cmd" >&2
	[[ " $cmd " == *" BUILD_DIR=$T/build "* ]]
	[[ " $cmd " == *" CACHE_DIR=$T/cache "* ]]
	[[ " $cmd " == *" OUTPUT=$OUT "* ]]
	[[ " $cmd " == *" IMAGE_URL=$HTTP_URL/files/vendor-mbr.img.xz "* ]]
}

# --- reruns -------------------------------------------------------------------------

@test "an edited phase2 script reruns its stage and those after it, on the same image" {
	recipe_copy
	mk >/dev/null
	local before
	before=$(stamps_before phase2-host)

	touch "$R/setup/40-phase2-target.sh"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase2-target finish" ]
	[ "$(stamps_before phase2-host)" = "$before" ]

	# shellcheck disable=SC2016 # expanded by the script
	echo 'echo edited >"$ROOT/etc/phase2-host-edited"' >>"$R/setup/30-phase2-host.sh"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase2-host phase2-target finish" ]
	[ "$(stamps_before phase2-host)" = "$before" ]
	assert_nothing_left
	# Three runs of phase2-target on one image, not on a fresh one.
	output_check "$OUT" view 3
	output_open "$OUT" view
	[ "$(cat "$T/view/etc/phase2-host-edited")" = edited ]
	output_close view
}

@test "make phase2 after finish: the image is mounted again, phase2 reruns and it stays mounted; then make redoes only finish" {
	mk >/dev/null
	local before
	before=$(stamps_before phase2-host)

	run --separate-stderr mk phase2
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase2-host phase2-target" ]
	mounted "$T/build/root"
	mounted "$T/build/root/boot/firmware"
	[ "$(cat "$T/build/root/etc/phase2-target-runs")" = 2 ]
	# The build is open again: no finished image.
	[ ! -e "$OUT" ]
	[ ! -e "$T/build/.stamp_finish" ]

	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = finish ]
	[ "$(stamps_before phase2-host)" = "$before" ]
	assert_nothing_left
	output_check "$OUT" view 2
}

# --- kill, and two at once -------------------------------------------------------------

# SIGKILL to make's whole process group must not leave the container
# running: systemd-nspawn is in a process group of its own, so it survives
# to stop the container when img-nspawn-run dies.
@test "SIGKILL to make during phase1-target: make clean-mounts leaves nothing; make then completes the image" {
	recipe_copy
	local script=$R/setup/20-phase1-target.sh log=$T/build/logs/08-phase1-target.log pid rc n
	sed -i 's/^uname -m/echo "phase1-target: sleeping"\nsleep 60\n&/' "$script"
	grep -qx 'sleep 60' "$script"
	setsid make --no-print-directory -C "$R" "${VARS[@]}" >"$T/make.out" 2>&1 </dev/null 3>&- &
	pid=$!
	BG_KILL+=("-$pid")
	for ((n = 0; n < 600; n++)); do
		grep -qsx "phase1-target: sleeping" "$log" && break
		sleep 0.05
	done
	grep -qx "phase1-target: sleeping" "$log"
	kill -KILL -- "-$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 137 ]
	[ ! -e "$OUT" ]
	[ ! -e "$T/build/.stamp_phase1-target" ]

	run --separate-stderr mk clean-mounts
	[ "$status" -eq 0 ]
	assert_nothing_left

	cp "$TOP/tests/recipes/fixture/setup/20-phase1-target.sh" "$script"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase1-target phase2-host phase2-target finish" ]
	assert_nothing_left
	output_check "$OUT" view 1
}

@test "SIGINT and SIGTERM at random moments into make: img-umount --state alone leaves nothing; the next make completes" {
	local round sig ms pg n builds=0
	for ((round = 0; round < 20; round++)); do
		# A finished build starts again from its download, so that every
		# round has stages to interrupt.
		if [ -e "$OUT" ]; then
			builds=$((builds + 1))
			img-umount -q --state "$T/build/loop.state"
			rm -rf "$T/build" "$OUT"
		fi
		sig=INT
		[ $((round % 3)) -ne 2 ] || sig=TERM
		ms=$((RANDOM % 2500))
		# As Ctrl-C does: to make's whole process group, with SIGINT at
		# its default (a background job of a script ignores it).
		perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; setpgrp(0, 0); exec @ARGV or die "exec: $!\n"' \
			make --no-print-directory -C "$R" "${VARS[@]}" >"$T/make.out" 2>&1 </dev/null 3>&- &
		pg=$!
		BG_KILL+=("-$pg")
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
		kill "-$sig" -- "-$pg" 2>/dev/null || true
		wait "$pg" || true
		for ((n = 0; n < 1000; n++)); do
			kill -0 -- "-$pg" 2>/dev/null || break
			sleep 0.01
		done
		! kill -0 -- "-$pg" 2>/dev/null
		echo "round $round: SIG$sig after ${ms}ms: $(sed -n 's/^>>> fixture: //p' "$T/make.out" | paste -sd' ')"
		run --separate-stderr img-umount --state "$T/build/loop.state"
		echo "  img-umount: $status $stderr"
		[ "$status" -eq 0 ]
		assert_nothing_left
	done
	echo "builds finished meanwhile: $builds"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	assert_nothing_left
	# A round may have stopped phase2-target after its work, before its
	# stamp: the next make runs it again, as make does (phase scripts are
	# written to run again on the same image).
	output_check "$OUT" view 1+
	output_open "$OUT" view
	[ -z "$(find "$T/view" -xdev -name '.img-overlay.*')" ]
	output_close view
}

# img-umount returns only once the loop device is detached: a FUSE daemon
# holds the boot partition open a moment after its unmount, and a new
# work.img at the same path must not be taken for one still in use.
@test "a FUSE daemon slow to exit: make returns only once the image is let go" {
	mk >/dev/null
	mk phase2 >/dev/null
	local fp
	fp=$(fusefat_of "$T/build/root/boot/firmware")
	[ -n "$fp" ] || skip "the boot partition is not mounted through FUSE here"
	# As a daemon slow to exit on a busy machine: it goes on in a second.
	kill -STOP "$fp"
	FUSE_STOPPED=$fp
	(
		sleep 1
		kill -CONT "$fp"
	) 3>&- &
	BG_KILL+=("$!")
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = finish ]
	assert_nothing_left
	output_check "$OUT" view 2
}

# A container of another image running meanwhile must not keep this image's
# mounts alive in its mount namespace: finish must check a cleanly unmounted
# filesystem, and the finished image must not change afterwards.
@test "another image's container running meanwhile: finish checks a cleanly unmounted filesystem, and the image stays as finished" {
	mk >/dev/null
	mk phase2 >/dev/null
	bg_build "$T/other" other
	run --separate-stderr mk

	[ "$status" -eq 0 ]
	[ "$(stages)" = finish ]
	[[ $output != *"skipping journal recovery"* ]]
	assert_nothing_left "$T/build"
	local sum n
	sum=$(sha256sum <"$OUT")
	# SIGTERM: systemd-nspawn stops the other container.
	kill -TERM -- "-$BG_PID"
	wait "$BG_PID" || true
	for ((n = 0; n < 100; n++)); do
		make --no-print-directory -C "$T/other" RTIK_SRC="$TOP" BUILD_DIR="$T/build-other" clean-mounts \
			>/dev/null 2>&1 && break
		sleep 0.05
	done
	assert_nothing_left
	[ "$(sha256sum <"$OUT")" = "$sum" ]
	output_check "$OUT" view 2
}

@test "two recipes at once with make -j2 and one cache: one download, both images complete" {
	local r
	for r in a b; do
		cp -a "$TOP/tests/recipes/fixture" "$T/$r"
	done
	cat >"$T/Makefile" <<EOF
all: a b
a b:
	\$(MAKE) --no-print-directory -C $T/\$@ RTIK_SRC=$TOP IMAGE_URL=$HTTP_URL/files/vendor-mbr.img.xz?two \\
		IMAGE_SHA256=$SUM BUILD_DIR=$T/build-\$@ CACHE_DIR=$T/cache OUTPUT=$T/out/\$@.img
.PHONY: all a b
EOF
	run --separate-stderr make --no-print-directory -C "$T" -j2
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(stages a)" = "${STAGES[*]}" ]
	[ "$(stages b)" = "${STAGES[*]}" ]
	# The other one waited for the download, then found it in the cache.
	http_log_wait '"GET /files/vendor-mbr\.img\.xz\?two HTTP/1\.1" 200 '
	[ "$(grep -c '"GET /files/vendor-mbr\.img\.xz?two ' "$HTTP_ACCESS_LOG")" -eq 1 ]
	cmp "$T/cache/vendor-mbr.img.xz" "$WWW/vendor-mbr.img.xz"
	[ ! -e "$T/cache/vendor-mbr.img.xz.part" ]
	assert_nothing_left
	output_check "$T/out/a.img" view-a 1
	output_check "$T/out/b.img" view-b 1
	assert_nothing_left
}

# --- errors ----------------------------------------------------------------------------

@test "neither IMAGE_SHA256 nor IMAGE_SHA256SUMS: one clear line, nothing fetched or mounted" {
	local log=$T/build/logs/01-fetch.log
	run --separate-stderr mk IMAGE_SHA256=
	[ "$status" -eq 2 ]
	[ "$(stages)" = fetch ]
	failure_check fetch "$log" "image.mk: set IMAGE_SHA256 (a pinned hash) or IMAGE_SHA256SUMS (the URL of a SHA256SUMS file)"
	# The log holds the line and nothing more.
	[ "${#stderr_lines[@]}" -eq 5 ]
	[ -z "$(ls -A "$T/cache" 2>/dev/null)" ]
	[ ! -e "$T/build/work.img" ]
	[ ! -e "$OUT" ]
	assert_nothing_left
}

@test "IMAGE_SHA256SUMS beside a pinned hash" {
	# Over plain http only with the hash pinned as well.
	run --separate-stderr mk "IMAGE_SHA256SUMS=$HTTP_URL/files/SHA256SUMS" fetch
	[ "$status" -eq 0 ]
	[ "$(stages)" = fetch ]
	cmp "$T/cache/vendor-mbr.img.xz" "$WWW/vendor-mbr.img.xz"
	[ -e "$T/build/.stamp_fetch" ]
}

@test "a wrong hash: both hashes named, nothing kept in the cache, nothing mounted" {
	local bad log=$T/build/logs/01-fetch.log d=$T/cache/vendor-mbr.img.xz
	bad=$([ "${SUM:0:1}" = 0 ] && echo 1 || echo 0)${SUM:1}
	run --separate-stderr mk "IMAGE_SHA256=$bad"
	[ "$status" -eq 2 ]
	[ "$(stages)" = fetch ]
	failure_check fetch "$log" "img-fetch: '$d' does not match: expected sha256 $bad, got $SUM; removed '$d.part'"
	[ ! -e "$d" ]
	[ ! -e "$d.part" ]
	[ ! -e "$T/build/.stamp_fetch" ]
	[ ! -e "$OUT" ]
	assert_nothing_left
}

# A script that does not exist stops the build before any stage runs.
@test "a missing script: one clear line, nothing left mounted" {
	run --separate-stderr mk PHASE2_TARGET=setup/nope.sh
	[ "$status" -eq 2 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == *"/mk/image.mk:"*": *** image.mk: fixture: PHASE2_TARGET script 'setup/nope.sh' does not exist.  Stop." ]]
	[ -z "$(ls "$T/build"/.stamp_* 2>/dev/null)" ]
	[ ! -e "$OUT" ]
	assert_nothing_left
}

# --- clean -----------------------------------------------------------------------------

# --- what the stamps follow ----------------------------------------------------------

@test "make -n and make -q write nothing: no build dir, no .vars_ file; a changed value shows as work to do, and is not taken" {
	run mk -n
	[ "$status" -eq 0 ]
	[ ! -e "$T/build" ]
	run mk -q
	[ "$status" -eq 1 ]
	[ ! -e "$T/build" ]

	mk >/dev/null
	local before
	before=$(cd "$T/build" && md5sum .vars_* && ls -l --time-style=+%s.%N .vars_* .stamp_*)
	run mk -q
	[ "$status" -eq 0 ]
	run mk -n IMAGE_SIZE=256M
	[ "$status" -eq 0 ]
	[[ $output == *"rtik-stage 03 grow"* ]]
	run mk -q IMAGE_SIZE=256M
	[ "$status" -eq 1 ]
	[ "$(cd "$T/build" && md5sum .vars_* && ls -l --time-style=+%s.%N .vars_* .stamp_*)" = "$before" ]
	# Nothing was taken: the plain make has nothing to do.
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ -z "$(stages)" ]
	assert_nothing_left
}

@test "a phase script's sourced file is an input of its stage; another stage's script is not" {
	recipe_copy
	mk >/dev/null
	local before
	before=$(stamps_before phase1-target)
	# A file beside the phase scripts that they could source.
	echo '# helpers' >"$R/setup/lib.sh"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase1-host phase1-target phase2-host phase2-target finish" ]
	# Editing phase2-target's script reruns no phase 1 stage.
	touch "$R/setup/40-phase2-target.sh"
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase2-target finish" ]
	assert_nothing_left
}

@test "other mirrors or another checksum list for the same download: fetch again (a cache hit), nothing after it" {
	mk >/dev/null
	run --separate-stderr mk IMAGE_MIRRORS="$HTTP_URL/files/vendor-mbr.img.xz?mirror"
	[ "$status" -eq 0 ]
	[ "$(stages)" = fetch ]
	run --separate-stderr mk IMAGE_MIRRORS="$HTTP_URL/files/vendor-mbr.img.xz?mirror" \
		IMAGE_SHA256SUMS="$HTTP_URL/files/SHA256SUMS"
	[ "$status" -eq 0 ]
	[ "$(stages)" = fetch ]
	assert_nothing_left
}

@test "IMAGE_PICK: the series' current file, recorded in the lock; the series moving on changes nothing but a line; LOCKED=1 builds the locked one from a mirror; make update-lock moves on" {
	local n=$BATS_TEST_NUMBER s old lock=$T/sources.lock new both
	s=$WWW/series$n old=$WWW/old$n
	GNUPGHOME=$T/gnupg
	export GNUPGHOME
	mkdir -m 0700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key 'rt-image-kit pipeline test' ed25519 sign never 2>/dev/null
	gpg --batch --export >"$T/keyring.gpg"
	mkdir -p "$s" "$old/1.1"
	cp "$WWW/vendor-mbr.img.xz" "$s/vendor-1.1.img.xz"
	sign_list() {
		(cd "$s" && sha256sum --binary vendor-*.img.xz >SHA256SUMS) &&
			gpg --batch --yes --detach-sign -o "$s/SHA256SUMS.gpg" "$s/SHA256SUMS"
	}
	sign_list
	local pick=("IMAGE_URL=$HTTP_URL/files/series$n/" IMAGE_SHA256= "IMAGE_PICK=vendor-1.*.img.xz"
		"IMAGE_SHA256SUMS=$HTTP_URL/files/series$n/SHA256SUMS" "IMAGE_SHA256SUMS_SIG=$HTTP_URL/files/series$n/SHA256SUMS.gpg"
		"IMAGE_KEYRING=$T/keyring.gpg" "IMAGE_MIRRORS=$HTTP_URL/files/old$n/1.*/" "SOURCES_LOCK=$lock")
	run --separate-stderr mk "${pick[@]}"
	[ "$status" -eq 0 ]
	[ "$(stages)" = "${STAGES[*]}" ]
	[[ $output == *"recorded sha256 $SUM of $HTTP_URL/files/series$n/vendor-1.1.img.xz in '$lock'; commit sources.lock"* ]]
	[ "$(cat "$lock")" = "$SUM  $HTTP_URL/files/series$n/vendor-1.1.img.xz" ]
	[ "$(cat "$T/build/.download-name")" = vendor-1.1.img.xz ]
	cmp "$T/cache/vendor-1.1.img.xz" "$WWW/vendor-mbr.img.xz"
	[ -f "$OUT" ]
	# Recorded, and nothing to do again.
	run --separate-stderr mk "${pick[@]}"
	[ "$status" -eq 0 ]
	[ -z "$(stages)" ]
	# The lock changed elsewhere than the image's entry: nothing to do.
	sed -i '1i # a comment' "$lock"
	run --separate-stderr mk "${pick[@]}"
	[ -z "$(stages)" ]
	sed -i '1d' "$lock"
	# The series moves on: 1.1 goes to old/1.1/, the directory lists 1.2.
	mv "$s/vendor-1.1.img.xz" "$old/1.1/"
	xz -dc "$WWW/vendor-mbr.img.xz" | xz -1 >"$s/vendor-1.2.img.xz"
	new=$(sha256sum <"$s/vendor-1.2.img.xz" | cut -d' ' -f1)
	sign_list
	# From nothing, LOCKED=1: the locked 1.1, from the mirror, and one line
	# on the terminal saying that 1.2 is out.
	mk clean >/dev/null
	rm -rf "$T/cache"
	run --separate-stderr mk "${pick[@]}" LOCKED=1
	[ "$status" -eq 0 ]
	both="$output
$stderr"
	[ "$(grep -c 'now lists' <<<"$both")" -eq 1 ]
	grep -qx "img-fetch: $HTTP_URL/files/series$n/SHA256SUMS now lists 'vendor-1.2.img.xz'; '$lock' keeps 'vendor-1.1.img.xz' until its entry is updated" <<<"$both"
	cmp "$T/cache/vendor-1.1.img.xz" "$WWW/vendor-mbr.img.xz"
	[ ! -e "$T/cache/vendor-1.2.img.xz" ]
	[ "$(cat "$lock")" = "$SUM  $HTTP_URL/files/series$n/vendor-1.1.img.xz" ]
	# Asked for: the entry and the download move to 1.2, and the build
	# redoes everything from the download on.
	run --separate-stderr mk "${pick[@]}" update-lock
	[ "$status" -eq 0 ]
	[ "$(cat "$lock")" = "$new  $HTTP_URL/files/series$n/vendor-1.2.img.xz" ]
	run --separate-stderr mk "${pick[@]}"
	[ "$status" -eq 0 ]
	[ "$(stages)" = "${STAGES[*]:1}" ]
	[ "$(cat "$T/build/.download-name")" = vendor-1.2.img.xz ]
	grep -qx 'the download: vendor-1.2.img.xz' "$T/build/logs/01-fetch.log"
	# LOCKED=1 and no entry: refused before any download.
	: >"$lock"
	rm -rf "$T/cache"
	run --separate-stderr mk "${pick[@]}" LOCKED=1 fetch
	[ "$status" -eq 2 ]
	[[ $stderr == *"img-fetch: '$lock' has no entry for 'vendor-1.*.img.xz' under $HTTP_URL/files/series$n/; refused (--locked): build once without LOCKED=1 to record it, and commit the file"* ]]
	[ -z "$(ls -A "$T/cache" 2>/dev/null)" ]
	# A pinned hash is of one file, not of whatever the directory lists.
	run --separate-stderr mk "${pick[@]}" IMAGE_SHA256="$SUM" fetch
	[ "$status" -eq 2 ]
	failure_check fetch "$T/build/logs/01-fetch.log" \
		"image.mk: IMAGE_PICK and IMAGE_SHA256 contradict each other: a pinned hash is of one file"
	# A recipe without IMAGE_PICK has no lock entry to update.
	run --separate-stderr mk update-lock
	[ "$status" -eq 2 ]
	[[ $stderr == *"image.mk: fixture sets no IMAGE_PICK: its download follows no release directory.  Stop." ]]
	mk clean-mounts >/dev/null
	assert_nothing_left
}

@test "an img-fetch that prints no verified hash: fetch fails with one line, nothing recorded" {
	# Downloads like img-fetch, but keeps its --print-sha256 to itself.
	cat >"$T/fetch-silent" <<'SH'
#!/bin/sh
"$REAL_FETCH" "$@" >/dev/null
SH
	chmod +x "$T/fetch-silent"
	local log=$T/build/logs/01-fetch.log
	REAL_FETCH=$(command -v img-fetch) run --separate-stderr mk IMG_FETCH="$T/fetch-silent"
	[ "$status" -eq 2 ]
	[ "$(stages)" = fetch ]
	failure_check fetch "$log" "image.mk: img-fetch printed no sha256 for $T/cache/vendor-mbr.img.xz"
	[ ! -e "$T/build/.download-sha256" ]
	[ ! -e "$T/build/.stamp_fetch" ]
	assert_nothing_left
}

@test "a target script outside the recipe and SHARED_DIR: one line naming both, before the container starts" {
	printf '#!/bin/sh\necho never\n' >"$T/elsewhere.sh"
	chmod +x "$T/elsewhere.sh"
	run --separate-stderr mk PHASE1_TARGET="$T/elsewhere.sh"
	[ "$status" -ne 0 ]
	failure_check phase1-target "$T/build/logs/08-phase1-target.log" \
		"image.mk: target script '$T/elsewhere.sh' is in neither the recipe directory $R nor SHARED_DIR $TOP/images/shared"
	[[ $output != *never* ]]
	mk clean-mounts >/dev/null
	assert_nothing_left
}

@test "the download fetched again into a new file, same content: the recorded hash keeps its time, nothing after fetch reruns" {
	mk >/dev/null
	local rec=$T/build/.download-sha256 before
	[ "$(cut -d' ' -f1 "$rec")" = "$SUM" ]
	before=$(stat -c %Y.%y "$rec")
	# The same content in a new file: the cache emptied, then filled again.
	rm "$T/cache/vendor-mbr.img.xz"
	run --separate-stderr mk IMAGE_MIRRORS="$HTTP_URL/files/vendor-mbr.img.xz?mirror"
	[ "$status" -eq 0 ]
	[ "$(stages)" = fetch ]
	[ "$(stat -c %Y.%y "$rec")" = "$before" ]
	[ "$(cut -d' ' -f2 "$rec")" = "$(stat -c '%d:%i:%s:%Y:%Z' "$T/cache/vendor-mbr.img.xz")" ]
	assert_nothing_left
}

@test "two makes on one build dir: the second stops at once, naming the first, and changes nothing" {
	bg_build "$T/fx" a
	local before
	before=$(cd "$T/build-a" && ls -l --time-style=+%s.%N .vars_* .stamp_*)
	run --separate-stderr make --no-print-directory -C "$T/fx" RTIK_SRC="$TOP" \
		IMAGE_URL="$HTTP_URL/files/vendor-mbr.img.xz" IMAGE_SHA256="$SUM" BUILD_DIR="$T/build-a" \
		CACHE_DIR="$T/cache" OUTPUT="$T/out/a.img"
	[ "$status" -ne 0 ]
	echo "$stderr" >&2
	[[ ${stderr_lines[0]} == *"image.mk: $T/build-a is being built by another make (pid $BG_PID: make "*"); wait for it, or stop it"* ]]
	[ "$(cd "$T/build-a" && ls -l --time-style=+%s.%N .vars_* .stamp_*)" = "$before" ]
	kill -TERM -- "-$BG_PID" 2>/dev/null || true
	wait "$BG_PID" 2>/dev/null || true
	make --no-print-directory -C "$T/fx" RTIK_SRC="$TOP" BUILD_DIR="$T/build-a" clean-mounts >/dev/null
	# A lock left by a make that was killed, whose PID another process has
	# now (its start time is not the one recorded): no owner, the build goes on.
	sleep 60 &
	BG_KILL+=($!)
	echo "$! 1" >"$T/build-a/.lock"
	run --separate-stderr make --no-print-directory -C "$T/fx" RTIK_SRC="$TOP" \
		IMAGE_URL="$HTTP_URL/files/vendor-mbr.img.xz" IMAGE_SHA256="$SUM" BUILD_DIR="$T/build-a" \
		CACHE_DIR="$T/cache" OUTPUT="$T/out/a.img" fetch
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 "$T/build-a/.lock")" != "$!" ]
}

@test "make clean unmounts and removes the build dir, keeping the cache; make distclean removes both" {
	# The default OUTPUT, in the build dir.
	VARS=("IMAGE_URL=$HTTP_URL/files/vendor-mbr.img.xz" "IMAGE_SHA256=$SUM"
		"BUILD_DIR=$T/build" "CACHE_DIR=$T/cache")
	mk >/dev/null
	[ -f "$T/build/fixture.img" ]
	mk phase2 >/dev/null
	mounted "$T/build/root"

	run --separate-stderr mk clean
	[ "$status" -eq 0 ]
	[ ! -e "$T/build" ]
	cmp "$T/cache/vendor-mbr.img.xz" "$WWW/vendor-mbr.img.xz"
	assert_nothing_left

	# Only the download is needed again, from the cache.
	run --separate-stderr mk
	[ "$status" -eq 0 ]
	[ "$(stages)" = "${STAGES[*]}" ]
	grep -q "^img-fetch: $T/cache/vendor-mbr.img.xz: up to date " "$T/build/logs/01-fetch.log"

	run --separate-stderr mk distclean
	[ "$status" -eq 0 ]
	[ ! -e "$T/build" ]
	[ ! -e "$T/cache" ]
	assert_nothing_left
}
