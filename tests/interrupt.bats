#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031 # bats: @test bodies run in subshells
# SIGINT and SIGTERM at random moments into img-loop + img-mount and into
# img-overlay: afterwards img-umount --state alone leaves no loop device and
# no mount, and no temporary file is left in the image. (An interrupted
# make is in pipeline.bats.)

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	T=$(cd -- "$T" && pwd -P)
	export T
	PG=
}

teardown() {
	[ -z "$PG" ] || kill -KILL -- "-$PG" 2>/dev/null || true
	block_cleanup
}

# interrupted SIGNAL DELAY COMMAND...: runs COMMAND in a process group of
# its own with SIGINT at its default action (a background job of a script
# ignores it), sends SIGNAL to the group after DELAY seconds, and waits
# until every process of the group is gone.
interrupted() {
	local sig=$1 delay=$2 n
	shift 2
	perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; setpgrp(0, 0); exec @ARGV or die "exec: $!\n"' "$@" \
		>/dev/null 2>&1 </dev/null 3>&- &
	PG=$!
	sleep "$delay"
	kill "-$sig" -- "-$PG" 2>/dev/null || true
	wait "$PG" 2>/dev/null || true
	for ((n = 0; n < 500; n++)); do
		kill -0 -- "-$PG" 2>/dev/null || break
		sleep 0.01
	done
	! kill -0 -- "-$PG" 2>/dev/null
	PG=
}

# A random delay of 0 to MS milliseconds, as seconds.
random_delay() {
	local ms=$((RANDOM % ($1 + 1)))
	printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}

@test "SIGINT and SIGTERM at random moments into img-loop + img-mount: img-umount --state leaves nothing" {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	local i round sig delay states=0 mounts=0
	for ((round = 0; round < 24; round++)); do
		sig=TERM
		[ $((round % 2)) -eq 0 ] || sig=INT
		# The two take about 0.2 s (more with the sanitizers).
		delay=$(random_delay 400)
		interrupted "$sig" "$delay" sh -c "img-loop -q --state '$T/s' '$T/img' &&
			img-mount -q --state '$T/s' --root '$T/root' --mount 2:/ --mount 1:/boot/firmware"
		[ ! -f "$T/s" ] || states=$((states + 1))
		! grep -q '^mount=' "$T/s" 2>/dev/null || mounts=$((mounts + 1))
		run --separate-stderr img-umount --state "$T/s"
		echo "round $round: SIG$sig after ${delay}s: $status $stderr"
		[ "$status" -eq 0 ]
		assert_nothing_left
		[ ! -e "$T/s" ]
		# No temporary state file either.
		[ -z "$(find "$T" -maxdepth 1 -name 's.*')" ]
	done
	echo "interrupted with a state file: $states, with mounts: $mounts"
}

@test "SIGINT and SIGTERM at random moments into img-overlay: no temporary file left in the image" {
	local i round sig delay
	mkdir -p "$T/src/d" "$T/root"
	for ((i = 0; i < 300; i++)); do
		echo "file $i" >"$T/src/d/f$i"
	done
	head -c 64M /dev/zero >"$T/src/big"
	for ((round = 0; round < 20; round++)); do
		sig=TERM
		[ $((round % 2)) -eq 0 ] || sig=INT
		rm -rf "$T/root"
		mkdir "$T/root"
		delay=$(random_delay 300)
		interrupted "$sig" "$delay" img-overlay --owner 0:0 "$T/src" "$T/root"
		echo "round $round: SIG$sig after ${delay}s: $(find "$T/root" -type f | wc -l) files"
		[ -z "$(find "$T/root" -name '.img-overlay.*')" ]
	done
	# And a whole run afterwards copies everything.
	img-overlay -q --owner 0:0 "$T/src" "$T/root"
	diff -r "$T/src" "$T/root"
}
