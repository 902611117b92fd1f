#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# The block layer end to end: img-loop, img-mount and img-umount together on
# the vendor fixtures. Round trips, hostile symlinks in the image, SIGKILL at
# random moments, two images at once, busy mounts, and recovery with --all.
#
# Other suites run beside this one, so nothing here counts or compares the
# machine's whole loop or mount table: every check is on devices backed by
# files under $T, or on mounts of our own devices.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	# Physical path: the tools print and record realpath()s.
	T=$(cd -- "$T" && pwd -P)
	export T
	# Background processes and process groups (as "-PGID") this test
	# started; teardown kills them before cleaning up, so a busy mount
	# never outlives a failed test.
	BG_KILL=()
	# Host paths that did not exist when host_watch ran; teardown removes
	# what a broken img-mount may have made there.
	HOST_ABSENT=()
}

teardown() {
	local k l m
	for k in "${BG_KILL[@]}"; do
		kill -9 -- "$k" 2>/dev/null || true
	done
	for k in "${BG_KILL[@]}"; do
		wait "${k#-}" 2>/dev/null || true
	done
	# Mounts of our devices outside $T (an escape) are not block_cleanup's
	# to find.
	for l in $(loops_under "$T"); do
		mounts_of "$l" | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	done
	block_cleanup
	# Deepest first; empty directories only, or what is not a directory.
	for k in "${HOST_ABSENT[@]}"; do
		if [ -d "$k" ] && [ ! -L "$k" ]; then
			rmdir "$k" 2>/dev/null || true
		else
			rm -f "$k"
		fi
	done
}

# Mount points under DIR, one a line.
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# Loop devices whose backing file lies under DIR, one a line.
loops_under() {
	losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$1" 'index($2, d "/") == 1 { print $1 }'
}

# Where loop device DEV, or one of its partitions, is mounted (FUSE mounts
# name the device as their source too).
mounts_of() {
	awk -v dev="$1" '{
		for (i = 7; i <= NF; i++)
			if ($i == "-") { src = $(i + 2); break }
		if (src == dev || index(src, dev "p") == 1)
			print $5
	}' /proc/self/mountinfo
}

# The FAT boot partition is mounted at DIR: its config.txt is there (fusefat
# shows the 8.3 name, CONFIG.TXT).
has_config_txt() {
	[ -n "$(find "$1" -maxdepth 1 -iname config.txt)" ]
}

# img-mount says one line when it falls back to fusefat for the FAT boot
# partition, and nothing when the kernel has a vfat driver.
assert_mount_stderr() {
	local dev=$1
	[ -z "$stderr" ] ||
		[ "$stderr" = "img-mount: the kernel has no vfat driver; mounted '${dev}p1' with fusefat" ] || {
		echo "unexpected stderr from img-mount: $stderr" >&2
		return 1
	}
}

# attach_mount IMG STATE ROOT [MOUNT-OPTION...]: img-loop, then img-mount
# with the root first and the boot partition at /boot/firmware. Sets DEV.
attach_mount() {
	local img=$1 state=$2 root=$3
	shift 3
	run --separate-stderr img-loop --state "$state" "$img"
	[ "$status" -eq 0 ]
	[[ $output =~ ^/dev/loop[0-9]+$ ]]
	[ -z "$stderr" ]
	DEV=$output
	run --separate-stderr img-mount "$@" --state "$state" --root "$root" \
		--mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	[ "$output" = "$root" ]
	assert_mount_stderr "$DEV"
	[ "$(mounts_of "$DEV" | sort)" = "$(printf '%s\n' "$root" "$root/boot/firmware" | sort)" ]
}

# img-umount --state that must succeed silently and remove the state file.
umount_state() {
	run --separate-stderr img-umount --state "$1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ ! -e "$1" ]
}

# --- 1. round trip -----------------------------------------------------------

round_trip() {
	cp --sparse=always "$(fixture "$1")" "$T/img"

	attach_mount "$T/img" "$T/s" "$T/root"
	local dev=$DEV
	[ "$(losetup -nO BACK-FILE "$dev")" = "$T/img" ]
	grep -qx "loop=$dev" "$T/s"
	grep -qx "mount=2:$T/root" "$T/s"
	grep -qx "mount=1:$T/root/boot/firmware" "$T/s"
	# The image's own files are there.
	[ -x "$T/root/bin/busybox" ]
	has_config_txt "$T/root/boot/firmware"
	echo "etc $1" >"$T/root/etc/rtik-round-trip"
	echo "boot $1" >"$T/root/boot/firmware/rtik.txt"
	umount_state "$T/s"
	assert_nothing_left

	attach_mount "$T/img" "$T/s" "$T/root" --read-only
	[ "$(cat "$T/root/etc/rtik-round-trip")" = "etc $1" ]
	[ "$(cat "$T/root/boot/firmware/rtik.txt")" = "boot $1" ]
	# Read-only means read-only, on both.
	run touch "$T/root/etc/rtik-ro" "$T/root/boot/firmware/rtik-ro.txt"
	[ "$status" -ne 0 ]
	[ ! -e "$T/root/etc/rtik-ro" ]
	[ ! -e "$T/root/boot/firmware/rtik-ro.txt" ]
	umount_state "$T/s"
	assert_nothing_left
}

@test "round trip on the MBR image: write, unmount, mount read-only, read back" {
	require_root
	round_trip vendor-mbr.img
}

@test "round trip on the GPT image: write, unmount, mount read-only, read back" {
	require_root
	round_trip vendor-gpt.img
}

# --- 2. hostile mount points ---------------------------------------------------

# hostile_image FIXTURE: copies FIXTURE to $T/img and runs the function
# "tamper" with the image's root mounted at $T/root (2:/ only).
hostile_image() {
	cp --sparse=always "$(fixture "$1")" "$T/img"
	img-loop -q --state "$T/build.s" "$T/img" >/dev/null
	img-mount -q --state "$T/build.s" --root "$T/root" --mount 2:/ >/dev/null
	tamper "$T/root"
	img-umount --state "$T/build.s"
	assert_nothing_left
}

# Where the image's paths would be on the host, if img-mount resolved a
# mount point (or made its directories) outside the root: boot/firmware
# itself, or behind the links the tests plant. Deepest first.
host_watch() {
	local p
	HOST_ABSENT=()
	for p in "/tmp/escape-$$/firmware" "/tmp/escape-$$" "/tmp/escape2-$$" \
		/boot/firmware /boot /firmware; do
		[ -e "$p" ] || [ -L "$p" ] || HOST_ABSENT+=("$p")
	done
}

# None of the paths host_watch found missing exists now.
assert_host_untouched() {
	local p
	for p in "${HOST_ABSENT[@]}"; do
		if [ -e "$p" ] || [ -L "$p" ]; then
			echo "made on the host: $p" >&2
			return 1
		fi
	done
}

# Mounts whose point lies outside $T, from our device.
mounts_outside_T() {
	mounts_of "$1" | awk -v d="$T" '!($0 == d || index($0, d "/") == 1)'
}

# try_full_mount WHERE: the full mount of the hostile image must either land
# at $T/root/WHERE (the link followed inside the image) or be refused in one
# line with exit 1. Either way nothing of it may be outside $T.
try_full_mount() {
	local where=$T/root/$1 dev
	dev=$(img-loop -q --state "$T/s" "$T/img")
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ -z "$(mounts_outside_T "$dev")" ]
	if [ "$status" -eq 0 ]; then
		[ "$output" = "$T/root" ]
		assert_mount_stderr "$dev"
		[ "$(mounts_of "$dev" | sort)" = "$(printf '%s\n' "$T/root" "$where" | sort)" ]
		grep -qx "mount=1:$where" "$T/s"
		has_config_txt "$where"
	else
		echo "refused: $stderr"
		[ "$status" -eq 1 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "img-mount: "* ]]
		[ -z "$(mounts_of "$dev")" ]
	fi
	umount_state "$T/s"
	assert_nothing_left
}

@test "a mount point behind an absolute dangling symlink stays inside the image" {
	require_root
	host_watch
	tamper() {
		rm -rf "${1:?}/boot"
		ln -s "/tmp/escape-$$" "$1/boot"
	}
	hostile_image vendor-mbr.img
	try_full_mount "tmp/escape-$$/firmware"
	assert_host_untouched
}

@test "a mount point behind a relative symlink climbing out stays inside the image" {
	require_root
	local up
	host_watch
	# Far more ".." than $T/root/boot is deep: followed on the host, this
	# would reach the host's /tmp.
	up=$(printf '../%.0s' {1..32})
	tamper() {
		rm -rf "${1:?}/boot/firmware"
		ln -s "${up}tmp/escape2-$$" "$1/boot/firmware"
	}
	hostile_image vendor-gpt.img
	try_full_mount "tmp/escape2-$$"
	assert_host_untouched
}

@test "a mount point behind a symlink to / stays inside the image" {
	require_root
	host_watch
	tamper() {
		rm -rf "${1:?}/boot"
		ln -s / "$1/boot"
	}
	hostile_image vendor-mbr.img
	try_full_mount firmware
	assert_host_untouched
}

@test "a mount point that is a regular file in the image is refused, and the root mount undone" {
	require_root
	tamper() {
		rm -rf "${1:?}/boot/firmware"
		echo "not a directory" >"$1/boot/firmware"
	}
	host_watch
	hostile_image vendor-mbr.img
	local dev
	dev=$(img-loop -q --state "$T/s" "$T/img")
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "img-mount: cannot mount on '/boot/firmware' in the image: not a directory" ]
	# The 2:/ mount this run made is gone, and dropped from the state.
	[ -z "$(mounts_of "$dev")" ]
	[ -z "$(mounts_under "$T")" ]
	[ "$(grep -c '^mount=' "$T/s")" -eq 0 ]
	umount_state "$T/s"
	assert_nothing_left
	assert_host_untouched
}

# --- 3. SIGKILL at random moments ---------------------------------------------

# Waits (bounded) until no live process is left in process group $1.
# Zombies count as gone: they hold no files, and PID 1 here may not reap
# them.
group_wait_gone() {
	local i
	for ((i = 0; i < 200; i++)); do
		ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }' || return 0
		sleep 0.01
	done
	echo "process group $1 still alive:" >&2
	ps -eo pid,pgid,stat,args | awk -v g="$1" '$2 == g' >&2
	return 1
}

@test "SIGKILL at random moments: img-umount --all always recovers" {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	# Not "i": bats 1.8.2's run (bats_version_lt) sets a global i.
	local iter pid ms chain start=$SECONDS finished=0
	local c1="img-loop -q --state $T/s $T/img >/dev/null && img-mount -q --state $T/s --root $T/root --mount 2:/ --mount 1:/boot/firmware >/dev/null"
	local c2="$c1 && echo x >$T/root/boot/firmware/kill.txt && img-umount --state $T/s"
	local c3="$c2 && $c1"
	# How long each chain takes here, unkilled: half the delays fall
	# within that, the others anywhere in 0-300 ms.
	local chains=("$c1" "$c2" "$c3") took=() t0
	for iter in 0 1 2; do
		t0=${EPOCHREALTIME/./}
		bash -c "${chains[iter]}"
		took[iter]=$(((${EPOCHREALTIME/./} - t0) / 1000 + 1))
		img-umount --all "$T"
		assert_nothing_left
	done
	echo "the chains take ${took[*]} ms"
	for ((iter = 0; iter < 60; iter++)); do
		chain=${chains[iter % 3]}
		if ((iter % 2)); then
			ms=$((RANDOM % 301))
		else
			ms=$((RANDOM % (took[iter % 3] < 300 ? took[iter % 3] + 1 : 301)))
		fi
		rm -f "$T/done"
		# Job control gives the chain its own process group before it
		# runs, so the kill reaches every process in it.
		set -m
		bash -c "$chain && touch $T/done" </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		set +m
		BG_KILL+=("-$pid")
		sleep "$(printf '0.%03d' "$ms")"
		kill -9 -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		group_wait_gone "$pid"
		[ ! -e "$T/done" ] || finished=$((finished + 1))

		run --separate-stderr img-umount --all "$T"
		echo "iteration $iter, chain $((iter % 3 + 1)), killed after $ms ms: status $status, stderr: $stderr"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		assert_nothing_left
		# Bounded: never let this test run away.
		[ $((SECONDS - start)) -lt 50 ]
	done
	echo "$finished of $iter chains finished before the kill"
	# The kills must have hit the chains, not only their aftermath.
	[ "$finished" -lt "$iter" ]
}

@test "a SIGKILLed fusefat daemon leaves a dead mount that img-umount --all removes" {
	require_root
	command -v fusefat >/dev/null || skip "fusefat is not installed"
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	attach_mount "$T/img" "$T/s" "$T/root"
	[ -n "$stderr" ] || skip "the kernel mounted the FAT partition itself"
	local pid
	pid=$(ps -eo pid=,args= | awk -v t="$T/root/boot/firmware" '$2 == "fusefat" && $NF == t { print $1 }')
	[[ $pid =~ ^[0-9]+$ ]]
	kill -9 "$pid"
	local i
	for ((i = 0; i < 100; i++)); do
		ps -o stat= -p "$pid" | grep -qv '^Z' || break
		sleep 0.01
	done
	run ls "$T/root/boot/firmware"
	[ "$status" -ne 0 ]
	[[ $output == *"Transport endpoint is not connected"* ]]
	run --separate-stderr img-umount --all "$T"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	assert_nothing_left
	# The state file still names the mounts; --state is a no-op on them now.
	umount_state "$T/s"
	assert_nothing_left
}

# --- 4. two images at once -----------------------------------------------------

@test "two images attached and mounted at once stay independent" {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/a.img"
	cp --sparse=always "$(fixture vendor-gpt.img)" "$T/b.img"
	attach_mount "$T/a.img" "$T/a.s" "$T/a"
	local deva=$DEV
	attach_mount "$T/b.img" "$T/b.s" "$T/b"
	local devb=$DEV
	[ "$deva" != "$devb" ]
	[ "$(losetup -nO BACK-FILE "$deva")" = "$T/a.img" ]
	[ "$(losetup -nO BACK-FILE "$devb")" = "$T/b.img" ]

	echo a >"$T/a/etc/only-a"
	echo a >"$T/a/boot/firmware/only-a.txt"
	echo b >"$T/b/etc/only-b"
	echo b >"$T/b/boot/firmware/only-b.txt"
	[ ! -e "$T/b/etc/only-a" ]
	[ ! -e "$T/b/boot/firmware/only-a.txt" ]
	[ ! -e "$T/a/etc/only-b" ]
	[ ! -e "$T/a/boot/firmware/only-b.txt" ]

	umount_state "$T/a.s"
	assert_nothing_left "$T/a"
	[ "$(loops_under "$T")" = "$devb" ]
	# b is untouched, and still works.
	[ "$(mounts_of "$devb" | sort)" = "$(printf '%s\n' "$T/b" "$T/b/boot/firmware" | sort)" ]
	[ "$(losetup -nO BACK-FILE "$devb")" = "$T/b.img" ]
	[ "$(cat "$T/b/etc/only-b")" = b ]
	[ "$(cat "$T/b/boot/firmware/only-b.txt")" = b ]
	echo b2 >"$T/b/etc/only-b"
	echo b2 >"$T/b/boot/firmware/later.txt"
	[ "$(cat "$T/b/boot/firmware/later.txt")" = b2 ]

	umount_state "$T/b.s"
	assert_nothing_left

	# What each wrote is in its own image only.
	attach_mount "$T/a.img" "$T/a.s" "$T/a" --read-only
	attach_mount "$T/b.img" "$T/b.s" "$T/b" --read-only
	[ "$(cat "$T/a/etc/only-a")" = a ]
	[ ! -e "$T/a/etc/only-b" ]
	[ "$(cat "$T/b/etc/only-b")" = b2 ]
	[ ! -e "$T/b/etc/only-a" ]
	[ "$(cat "$T/b/boot/firmware/later.txt")" = b2 ]
	[ ! -e "$T/a/boot/firmware/later.txt" ]
	umount_state "$T/a.s"
	umount_state "$T/b.s"
	assert_nothing_left
}

# --- 5. --all: idempotent, and only under its DIR ------------------------------

@test "img-umount --all is idempotent and never touches anything outside its DIR" {
	require_root
	# The sibling shares the string prefix "$T/build": --all must compare
	# path components, not strings.
	mkdir "$T/build" "$T/build-other"
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/build/img"
	cp --sparse=always "$(fixture vendor-gpt.img)" "$T/build-other/img"
	attach_mount "$T/build/img" "$T/build/s" "$T/build/root"
	[ "$(losetup -nO BACK-FILE "$DEV")" = "$T/build/img" ]
	attach_mount "$T/build-other/img" "$T/build-other/s" "$T/build-other/root"
	local other=$DEV

	local n
	for n in 1 2 3; do
		run --separate-stderr img-umount --all "$T/build"
		echo "run $n: status $status, stderr: $stderr"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		[ -z "$stderr" ]
		assert_nothing_left "$T/build"
		# The other image is still mounted, attached and working.
		[ "$(mounts_of "$other" | sort)" = "$(printf '%s\n' "$T/build-other/root" "$T/build-other/root/boot/firmware" | sort)" ]
		[ "$(losetup -nO BACK-FILE "$other")" = "$T/build-other/img" ]
		has_config_txt "$T/build-other/root/boot/firmware"
		[ -x "$T/build-other/root/bin/busybox" ]
	done

	# A relative DIR and a trailing slash mean the same directory.
	(cd "$T" && img-umount --all build/)
	[ "$(losetup -nO BACK-FILE "$other")" = "$T/build-other/img" ]

	umount_state "$T/build-other/s"
	assert_nothing_left
	run --separate-stderr img-umount --all "$T"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

# --- 6. a busy mount -------------------------------------------------------------

@test "a busy mount is not unmounted: the user is named; --lazy detaches it" {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	attach_mount "$T/img" "$T/s" "$T/root"
	local dev=$DEV pid
	# fd 3 is bats' own: a background process holding it stalls bats.
	(cd "$T/root/etc" && exec sleep 120) </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	BG_KILL+=("$pid")
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink "/proc/$pid/cwd")" != "$T/root/etc" ] || break
		sleep 0.01
	done
	[ "$(readlink "/proc/$pid/cwd")" = "$T/root/etc" ]

	run --separate-stderr img-umount --state "$T/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: cannot unmount '$T/root': in use by $pid (sleep); stop them, or use --lazy" ]
	[ -e "$T/s" ]
	mounts_of "$dev" | grep -qx "$T/root"
	[ -x "$T/root/bin/busybox" ]

	run --separate-stderr img-umount --lazy --all "$T"
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "img-umount: detached '$T/root' lazily; still in use by $pid (sleep)" ]
	[ "${stderr_lines[1]}" = "img-umount: $dev is still in use; it detaches when released" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ -z "$(mounts_under "$T")" ]

	kill "$pid"
	wait "$pid" || true
	# The lazily detached filesystem held the device; it goes with the
	# last user (LOOP_CLR_FD only marked it for autoclear).
	for ((i = 0; i < 100; i++)); do
		[ -n "$(loops_under "$T")" ] || break
		sleep 0.02
	done
	umount_state "$T/s"
	assert_nothing_left
}

@test "a busy bind mount of a directory names its user only, not every process on that filesystem" {
	require_root
	mkdir -p "$T/src/sub" "$T/bind"
	mount --bind "$T/src" "$T/bind"
	local pid i
	(cd "$T/bind/sub" && exec sleep 120) </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	BG_KILL+=("$pid")
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink "/proc/$pid/cwd")" != "$T/bind/sub" ] || break
		sleep 0.01
	done
	run --separate-stderr img-umount --all "$T"
	kill "$pid"
	wait "$pid" || true
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-umount: cannot unmount '$T/bind': in use by $pid (sleep); stop them, or use --lazy" ]
	run --separate-stderr img-umount --all "$T"
	[ "$status" -eq 0 ]
	[ -z "$(mounts_under "$T")" ]
}

# --- 7. img-loop idempotence -----------------------------------------------------

@test "img-loop: same state, same device; --detach refuses while mounted; a stale state is attached again" {
	require_root
	cp --sparse=always "$(fixture vendor-gpt.img)" "$T/img"
	run --separate-stderr img-loop --state "$T/s" "$T/img"
	[ "$status" -eq 0 ]
	local dev=$output
	[ "$(loops_under "$T")" = "$dev" ]

	run --separate-stderr img-loop --state "$T/s" "$T/img"
	[ "$status" -eq 0 ]
	[ "$output" = "$dev" ]
	[ "$stderr" = "img-loop: '$T/img' is already attached as $dev" ]
	[ "$(loops_under "$T")" = "$dev" ]

	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	# img-mount is idempotent too: a second run mounts nothing more.
	run --separate-stderr img-mount --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware
	[ "$status" -eq 0 ]
	[ "$(mounts_under "$T" | wc -l)" -eq 2 ]
	[ "$(grep -c '^mount=' "$T/s")" -eq 2 ]

	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-loop: '${dev}p2' is mounted on '$T/root'; unmount it first (img-umount --state $T/s)" ]
	[ "$(loops_under "$T")" = "$dev" ]
	[ -e "$T/s" ]
	[ "$(mounts_under "$T" | wc -l)" -eq 2 ]

	umount_state "$T/s"
	assert_nothing_left

	# Detached behind img-loop's back: the state is stale, not fatal.
	dev=$(img-loop -q --state "$T/s" "$T/img")
	losetup -d "$dev"
	[ -z "$(loops_under "$T")" ]
	run --separate-stderr img-loop --state "$T/s" "$T/img"
	[ "$status" -eq 0 ]
	[[ $output =~ ^/dev/loop[0-9]+$ ]]
	[ "$stderr" = "img-loop: '$T/s' is stale; attaching again" ]
	dev=$output
	[ "$(loops_under "$T")" = "$dev" ]
	[ "$(losetup -nO BACK-FILE "$dev")" = "$T/img" ]
	grep -qx "loop=$dev" "$T/s"
	[ -b "${dev}p1" ]
	[ -b "${dev}p2" ]
	grep -qx "part2=${dev}p2" "$T/s"

	run --separate-stderr img-loop --detach --state "$T/s"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ ! -e "$T/s" ]
	assert_nothing_left
}
