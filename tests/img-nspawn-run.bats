#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# shellcheck disable=SC2016 # the commands in single quotes run in the image
# img-nspawn-run on the arm64 busybox fixture, mounted with img-loop and
# img-mount: aarch64 programs really run, statuses come through, binds and
# --setenv work, the image is left exactly as it was, output is neither
# reordered nor held back, --log, --shell, the binfmt_misc registration, and
# the errors.
#
# Other suites run beside this one: nothing here looks at processes or mounts
# other than those under $T, and the one test that unregisters qemu-aarch64
# puts back what it found.

bats_require_minimum_version 1.5.0
load test_helper

QEMU_ENTRY=/proc/sys/fs/binfmt_misc/qemu-aarch64

setup() {
	common_setup
	# Physical path: the tool prints realpath()s.
	T=$(cd -- "$T" && pwd -P)
	export T
	# Background processes this test started; teardown kills what is left.
	BG_KILL=()
	# What binfmt_save found ("" when the test did not touch binfmt_misc).
	BINFMT_SAVED=
}

teardown() {
	local k left
	for k in "${BG_KILL[@]}"; do
		kill -9 -- "$k" 2>/dev/null || true
	done
	for k in "${BG_KILL[@]}"; do
		wait "${k#-}" 2>/dev/null || true
	done
	# SIGTERM first: systemd-nspawn then stops its container, which a
	# SIGKILL would leave running.
	left=$(nspawn_pids)
	for k in $left; do
		kill "$k" 2>/dev/null || true
	done
	if ! nspawn_wait_gone; then
		for k in $(nspawn_pids); do
			kill -9 "$k" 2>/dev/null || true
		done
	fi
	binfmt_restore
	block_cleanup
	assert_nothing_left
	[ -z "$left" ] || {
		echo "systemd-nspawn left running: $left" >&2
		return 1
	}
}

# The systemd-nspawn processes running on a directory under $T.
nspawn_pids() {
	local p
	for p in $(pgrep -x systemd-nspawn 2>/dev/null); do
		tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx -- "--directory=$T/.*" && echo "$p"
	done
	return 0
}

# Waits (bounded) until nspawn_pids finds nothing.
nspawn_wait_gone() {
	local n
	for ((n = 0; n < 200; n++)); do
		[ -n "$(nspawn_pids)" ] || return 0
		sleep 0.02
	done
	return 1
}

# The fixture, mounted at $T/root; qemu-aarch64 registered once (with its
# one line), so that the tests after it can expect an empty stderr.
image_mount() {
	require_root
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	img-loop -q --state "$T/s" "$T/img" >/dev/null
	img-mount -q --state "$T/s" --root "$T/root" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	img-nspawn-run -q --root "$T/root" true
}

host_is_aarch64() {
	[ "$(uname -m)" = aarch64 ]
}

# A listing of everything under DIR on its filesystem: type, mode, links,
# owner, size, mtime, ctime, name and symlink target.
listing() {
	(cd -- "$1" && find . -xdev -printf '%M %n %U:%G %s %T@ %C@ %p -> %l\n' | LC_ALL=C sort)
}

# binfmt_line [NAME]: entry NAME (qemu-aarch64) as /proc shows it, as a
# line for binfmt_misc's register file.
binfmt_line() {
	local name=${1:-qemu-aarch64}
	awk -v name="$name" '
		/^interpreter / { interp = $2 }
		/^flags:/ { flags = $2 }
		/^offset / { offset = $2 }
		/^magic / { magic = $2 }
		/^mask / { mask = $2 }
		END {
			gsub(/../, "\\x&", magic)
			gsub(/../, "\\x&", mask)
			printf ":%s:M:%s:%s:%s:%s:%s\n", name, offset, magic, mask, interp, flags
		}' "/proc/sys/fs/binfmt_misc/$name"
}

# The entry img-nspawn-run registers beside a working qemu-aarch64 that
# has no F flag. binfmt_save takes one that is there away for the test (it
# would serve in place of qemu-aarch64); binfmt_restore puts it back.
RTIK_ENTRY=/proc/sys/fs/binfmt_misc/rtik-qemu-aarch64

binfmt_save() {
	if [ -e "$QEMU_ENTRY" ]; then
		BINFMT_SAVED="$(head -n 1 "$QEMU_ENTRY") $(binfmt_line)"
	else
		BINFMT_SAVED=absent
	fi
	BINFMT_SAVED_RTIK=
	if [ -e "$RTIK_ENTRY" ]; then
		BINFMT_SAVED_RTIK="$(head -n 1 "$RTIK_ENTRY") $(binfmt_line rtik-qemu-aarch64)"
		echo -1 >"$RTIK_ENTRY"
	fi
}

# Puts qemu-aarch64 (and rtik-qemu-aarch64) back as binfmt_save found them.
binfmt_restore() {
	[ -n "$BINFMT_SAVED" ] || return 0
	[ ! -e "$QEMU_ENTRY" ] || echo -1 >"$QEMU_ENTRY"
	[ ! -e "$RTIK_ENTRY" ] || echo -1 >"$RTIK_ENTRY"
	if [ -n "${BINFMT_SAVED_RTIK-}" ]; then
		echo "${BINFMT_SAVED_RTIK#* }" >/proc/sys/fs/binfmt_misc/register
		[ "${BINFMT_SAVED_RTIK%% *}" = enabled ] || echo 0 >"$RTIK_ENTRY"
	fi
	[ "$BINFMT_SAVED" != absent ] || return 0
	echo "${BINFMT_SAVED#* }" >/proc/sys/fs/binfmt_misc/register
	[ "${BINFMT_SAVED%% *}" = enabled ] || echo 0 >"$QEMU_ENTRY"
}

# fake_root DIR MACHINE: a root whose /bin is an absolute symlink to
# /usr/bin, holding only usr/bin/sh: a 64-byte ELF header (64-bit,
# little-endian) for e_machine MACHINE.
fake_root() {
	local dir=$1 m=$2
	mkdir -p "$dir/usr/bin"
	ln -s /usr/bin "$dir/bin"
	{
		printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000'
		printf '\002\000%b%b\001\000\000\000' "$(printf '\\%03o' $((m & 255)))" "$(printf '\\%03o' $((m >> 8)))"
		head -c 40 /dev/zero
	} >"$dir/usr/bin/sh"
	chmod 0755 "$dir/usr/bin/sh"
	[ "$(stat -c %s "$dir/usr/bin/sh")" -eq 64 ]
}

# --- usage, and roots that are no image ------------------------------------------

@test "--help and --version" {
	run --separate-stderr img-nspawn-run --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-nspawn-run "* ]]
	[ -z "$stderr" ]
	run --separate-stderr img-nspawn-run -V
	[ "$status" -eq 0 ]
	[[ $output =~ ^img-nspawn-run\ [0-9] ]]
}

@test "bad usage exits 125, as env(1) does, in one line" {
	mkdir "$T/src"
	run --separate-stderr img-nspawn-run true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: no root directory given (--root DIR)" ]
	run --separate-stderr img-nspawn-run --root "$T"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: no command given (or --shell)" ]
	run --separate-stderr img-nspawn-run --root "$T" --shell true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --shell takes no command" ]
	run --separate-stderr img-nspawn-run --root "$T" --log "$T/log" --shell
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --log is for commands, not --shell" ]
	run --separate-stderr img-nspawn-run --root "$T" --setenv 1A=x true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --setenv wants NAME=VALUE or NAME, NAME of letters, digits and '_', not '1A=x'" ]
	run --separate-stderr img-nspawn-run --root "$T" --setenv 1A true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --setenv wants NAME=VALUE or NAME, NAME of letters, digits and '_', not '1A'" ]
	for bad in cap_ipc_lock CAP_ CAP_IPC_LOCK, ,CAP_SYS_NICE 'CAP_X;true'; do
		run --separate-stderr img-nspawn-run --capability="$bad" --root / true
		[ "$status" -eq 125 ]
		[ "$stderr" = "img-nspawn-run: --capability wants CAP_NAME[,CAP_NAME]..., not '$bad'" ]
	done
	run --separate-stderr img-nspawn-run --root "$T" --apt-downloads "$T/dl" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --apt-downloads goes with --apt-cache" ]
	run --separate-stderr img-nspawn-run --root "$T" --apt-cache "" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --apt-cache wants a directory" ]
	run --separate-stderr img-nspawn-run --root "$T" --setenv 'A-B=x' true
	[ "$status" -eq 125 ]
	run --separate-stderr img-nspawn-run --root "$T" --bind "$T/src" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --bind wants SRC:DST with an absolute DST, not '$T/src'" ]
	run --separate-stderr img-nspawn-run --root "$T" --bind-ro "$T/src:run/x" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --bind-ro wants SRC:DST with an absolute DST, not '$T/src:run/x'" ]
	run --separate-stderr img-nspawn-run --root "$T" --bind ":/run/x" true
	[ "$status" -eq 125 ]
	run --separate-stderr img-nspawn-run --root "$T" --bind "$T/src:/run/../etc" true
	[ "$status" -eq 125 ]
	run --separate-stderr img-nspawn-run --root "$T" --workdir tmp true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --workdir wants an absolute path without '.' or '..', not 'tmp'" ]
	run --separate-stderr img-nspawn-run --root "$T" --no-such-option true
	[ "$status" -eq 125 ]
	[ "${stderr_lines[1]}" = "Try 'img-nspawn-run --help'." ]
}

@test "a root that is missing, or holds no /bin/sh or /usr/bin/env, or no ELF one, is refused" {
	run --separate-stderr img-nspawn-run --root "$T/none" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: cannot open '$T/none': No such file or directory" ]
	mkdir "$T/empty"
	run --separate-stderr img-nspawn-run --root "$T/empty" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: '$T/empty' has no /bin/sh or /usr/bin/env; is it the root directory of an image?" ]
	# The host's /bin/sh is not the image's.
	mkdir "$T/hostile"
	ln -s /bin "$T/hostile/bin"
	run --separate-stderr img-nspawn-run --root "$T/hostile" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: '$T/hostile' has no /bin/sh or /usr/bin/env; is it the root directory of an image?" ]
	mkdir -p "$T/script/bin"
	printf '#!/bin/busybox sh\n' >"$T/script/bin/sh"
	chmod +x "$T/script/bin/sh"
	run --separate-stderr img-nspawn-run --root "$T/script" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: '$T/script': neither /bin/sh nor /usr/bin/env is an ELF program" ]
}

@test "a foreign architecture without an emulator: one line naming the package, exit 125" {
	require_root
	host_is_aarch64 && skip "needs a host that is not aarch64"
	# ia64 (e_machine 50): an architecture qemu-user-static has no entry for.
	fake_root "$T/root" 50
	local installed=no
	if compgen -G '/usr/lib/binfmt.d/qemu-*.conf' >/dev/null || compgen -G '/usr/share/binfmts/qemu-*' >/dev/null; then
		installed=yes
	fi
	run --separate-stderr img-nspawn-run --root "$T/root" sh
	[ "$status" -eq 125 ]
	[ -z "$output" ]
	if [ "$installed" = yes ]; then
		[ "$stderr" = "img-nspawn-run: '$T/root' holds ia64 programs and this host runs x86-64; qemu-user-static has no emulator for them" ]
	else
		[ "$stderr" = "img-nspawn-run: '$T/root' holds ia64 programs and this host runs x86-64; install qemu-user-static to run them" ]
	fi
	# Without the package: its files hidden in a mount namespace of our own.
	run --separate-stderr unshare -m sh -c '
		for d in /usr/lib/binfmt.d /usr/share/binfmts; do
			[ ! -d "$d" ] || mount -t tmpfs none "$d" || exit 99
		done
		exec img-nspawn-run --root "$1" sh' sh "$T/root"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: '$T/root' holds ia64 programs and this host runs x86-64; install qemu-user-static to run them" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
}

# --- running in the image ---------------------------------------------------------

@test "commands really run as aarch64" {
	image_mount
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$status" -eq 0 ]
	[ "$output" = aarch64 ]
	[ -z "$stderr" ]
	# busybox, the image's one program, is an aarch64 ELF.
	run --separate-stderr img-nspawn-run --root "$T/root" sh -c 'od -An -tu1 -j18 -N2 /usr/bin/busybox'
	[ "$status" -eq 0 ]
	local bytes
	read -r -a bytes <<<"$output"
	[ "${bytes[*]}" = "183 0" ]
	host_is_aarch64 || [ "$(uname -m)" != aarch64 ]
}

@test "exit statuses come through: 0, 1, 3; 127 for a missing command, 126 for a non-program, 255 for a signal" {
	image_mount
	local code
	for code in 0 1 3; do
		run --separate-stderr img-nspawn-run --root "$T/root" sh -c "exit $code"
		[ "$status" -eq "$code" ]
		[ -z "$stderr" ]
	done
	run --separate-stderr img-nspawn-run --root "$T/root" false
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]

	run -127 --separate-stderr img-nspawn-run --root "$T/root" no-such-command --flag
	[ "$status" -eq 127 ]
	[ "$stderr" = "img-nspawn-run: 'no-such-command': command not found in '$T/root'" ]
	run -127 --separate-stderr img-nspawn-run --root "$T/root" /usr/bin/no-such-command
	[ "$status" -eq 127 ]
	# On the host, not in the image: still not found.
	[ -x /usr/bin/env ] && [ ! -e "$T/root/usr/bin/bats" ]
	run -127 --separate-stderr img-nspawn-run --root "$T/root" bats --version
	run --separate-stderr img-nspawn-run --root "$T/root" /etc/passwd
	[ "$status" -eq 126 ]
	[ "$stderr" = "img-nspawn-run: '/etc/passwd': not an executable file in '$T/root'" ]
	run --separate-stderr img-nspawn-run --root "$T/root" /etc
	[ "$status" -eq 126 ]

	# Killed by a signal: systemd-nspawn's init reports 255.
	run --separate-stderr img-nspawn-run --root "$T/root" sh -c 'kill -KILL $$'
	[ "$status" -eq 255 ]
	[ -z "$stderr" ]
}

@test "systemd-nspawn's own failure is 125, not the 1 it exits with" {
	image_mount
	# systemd-nspawn refuses a value that is not UTF-8, before the command
	# starts; it says so itself.
	run --separate-stderr img-nspawn-run --root "$T/root" --setenv "BAD=$(printf '\377')" true
	[ "$status" -eq 125 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "Cannot assign environment variable BAD="* ]]

	# It refuses a second run on a root that one uses already.
	mkdir "$T/flag"
	img-nspawn-run --root "$T/root" --bind "$T/flag:/run/flag" sh -c '
		echo started
		n=0; while [ ! -e /run/flag/go ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done' \
		>"$T/out" 2>&1 3>&- &
	local pid=$! n
	BG_KILL+=("$pid")
	for ((n = 0; n < 300; n++)); do
		[ ! -s "$T/out" ] || break
		sleep 0.1
	done
	[ "$(cat "$T/out")" = started ]
	run --separate-stderr img-nspawn-run --root "$T/root" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "Directory tree $T/root is currently busy." ]
	touch "$T/flag/go"
	wait "$pid"
}

@test "--setenv, --bind, --bind-ro and --workdir; stdin comes through" {
	image_mount
	mkdir "$T/setup" "$T/out"
	printf '#!/bin/sh\necho "setup says $GREETING from $(pwd); spaced: [$SPACED]"\n' >"$T/setup/run.sh"
	chmod +x "$T/setup/run.sh"
	run --separate-stderr img-nspawn-run --root "$T/root" --setenv GREETING=hello --setenv 'SPACED=a  b=c' \
		--bind-ro "$T/setup:/run/setup" --workdir /run/setup -- /run/setup/run.sh
	[ "$status" -eq 0 ]
	[ "$output" = "setup says hello from /run/setup; spaced: [a  b=c]" ]
	[ -z "$stderr" ]
	# Relative to --workdir, and along a PATH that --setenv gives.
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/setup:/run/setup" --workdir /run/setup ./run.sh
	[ "$status" -eq 0 ]
	[[ $output == "setup says  from /run/setup;"* ]]
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/setup:/run/setup" \
		--setenv PATH=/run/setup:/usr/bin run.sh
	[ "$status" -eq 0 ]
	[[ $output == "setup says  from /;"* ]]

	# Writable, and read-only.
	run --separate-stderr img-nspawn-run --root "$T/root" --bind "$T/out:/tmp/out" \
		sh -c 'echo written >/tmp/out/file'
	[ "$status" -eq 0 ]
	[ "$(cat "$T/out/file")" = written ]
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/out:/run/out" \
		sh -c 'echo again >/run/out/file'
	[ "$status" -ne 0 ]
	[ "$(cat "$T/out/file")" = written ]

	run --separate-stderr img-nspawn-run --root "$T/root" --workdir /etc sh -c pwd
	[ "$output" = /etc ]
	run --separate-stderr img-nspawn-run --root "$T/root" --workdir /no/such/dir sh -c pwd
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --workdir '/no/such/dir' is not a directory in the image" ]
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/no-such-src:/run/x" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: cannot bind '$T/no-such-src': No such file or directory" ]

	run --separate-stderr img-nspawn-run --root "$T/root" cat <<<"from stdin"
	[ "$status" -eq 0 ]
	[ "$output" = "from stdin" ]
}

@test "--setenv NAME: the value from the environment, on no command line; unset, it stays unset" {
	image_mount
	local secret=value-$RANDOM$RANDOM
	SECRET=$secret img-nspawn-run --root "$T/root" --setenv SECRET --setenv UNSET_HERE \
		sh -c 'echo "[$SECRET] [${UNSET_HERE-unset}]" >/tmp/seen; sleep 2; cat /tmp/seen' >"$T/out" 2>&1 &
	BG_KILL+=($!)
	local n found=
	for ((n = 0; n < 100; n++)); do
		[ -n "$(nspawn_pids)" ] && found=1 && break
		sleep 0.05
	done
	[ -n "$found" ]
	# Every process's command line, while the container runs (read first:
	# a grep for the secret would find its own).
	local procs
	procs=$(ps -eo args)
	[[ $procs != *"$secret"* ]]
	wait "${BG_KILL[-1]}"
	[ "$(cat "$T/out")" = "[$secret] [unset]" ]
}

# A .deb-named file and an apt Packages list that vouches for it (or not).
apt_files() {
	mkdir -p "$T/debs"
	printf 'a good package\n' >"$T/debs/good_1.0_arm64.deb"
	printf 'a forged package\n' >"$T/debs/evil_1.0_arm64.deb"
	printf 'epoch\n' >"$T/debs/ep_1%3a2.0_all.deb"
	printf 'Package: good\nVersion: 1.0\nArchitecture: arm64\nSHA256: %s\nDescription: x\n more\n\nPackage: ep\nVersion: 1:2.0\nArchitecture: all\nSHA256: %s\n\nPackage: evil\nVersion: 1.0\nArchitecture: arm64\nSHA256: %s\n' \
		"$(sha256sum <"$T/debs/good_1.0_arm64.deb" | cut -d' ' -f1)" \
		"$(sha256sum <"$T/debs/ep_1%3a2.0_all.deb" | cut -d' ' -f1)" "$(printf '0%.0s' {1..64})" >"$T/debs/Packages"
}

@test "--apt-cache: apt sees the shared .deb files read-only; only new ones its lists vouch for go in, the rest is dropped and said" {
	image_mount
	apt_files
	mkdir -p "$T/root/var/cache/apt/archives" "$T/cache"
	echo old >"$T/cache/old_1_all.deb"
	run --separate-stderr img-nspawn-run --root "$T/root" --apt-cache "$T/cache" --apt-downloads "$T/dl" \
		--bind-ro "$T/debs:/run/debs" sh -c '
		cd /var/cache/apt/archives
		cat old_1_all.deb; echo changed >old_1_all.deb; rm -f old_1_all.deb
		cp /run/debs/*.deb .; echo junk >notes.txt; ln -s /etc/passwd link_1_all.deb; mkdir partial
		mkdir -p /var/lib/apt/lists; cp /run/debs/Packages /var/lib/apt/lists/x_dists_y_main_binary-arm64_Packages'
	[ "$status" -eq 0 ]
	[ "$output" = old ]
	[ "${stderr_lines[0]}" = "img-nspawn-run: kept 2 new .deb files in the apt cache '$T/cache'" ]
	[[ ${stderr_lines[1]} == "img-nspawn-run: warning: not kept in the apt cache '$T/cache': 3 files that the image's apt lists do not vouch for ("*")" ]]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ $stderr == *"'evil_1.0_arm64.deb'"* && $stderr == *"'notes.txt'"* && $stderr == *"'link_1_all.deb'"* ]]
	[ "$(ls "$T/cache" | paste -sd' ')" = "ep_1%3a2.0_all.deb good_1.0_arm64.deb old_1_all.deb" ]
	[ "$(cat "$T/cache/old_1_all.deb")" = old ]
	cmp "$T/cache/good_1.0_arm64.deb" "$T/debs/good_1.0_arm64.deb"
	# Nothing of the run is left, in the image or the downloads directory.
	[ -z "$(ls -A "$T/root/var/cache/apt/archives")" ]
	[ -z "$(ls -A "$T/dl/upper" "$T/dl/work" 2>/dev/null)" ]
	# Without lists to check against: nothing is kept, and that is said.
	rm -rf "$T/root/var/lib/apt/lists"
	run --separate-stderr img-nspawn-run -q --root "$T/root" --apt-cache "$T/cache" --bind-ro "$T/debs:/run/debs" \
		sh -c 'cp /run/debs/evil_1.0_arm64.deb /var/cache/apt/archives/new_2_all.deb'
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-nspawn-run: warning: not kept in the apt cache '$T/cache': 1 downloaded file ('new_2_all.deb'); the image has no apt lists left to check them against" ]
	[ ! -e "$T/cache/new_2_all.deb" ]
	# An image without apt's directory: nothing is shared, nothing made.
	rmdir "$T/root/var/cache/apt/archives"
	run --separate-stderr img-nspawn-run --root "$T/root" --apt-cache "$T/cache" true
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-nspawn-run: '$T/root' has no /var/cache/apt/archives: no apt cache to share" ]
	[ ! -e "$T/root/var/cache/apt/archives" ]
	run --separate-stderr img-nspawn-run --root "$T/root" --apt-cache "$T/no-cache" true
	[ "$status" -eq 0 ]
}

@test "the image is left as it was: resolv.conf the same symlink, nothing new in / or /etc" {
	image_mount
	mkdir "$T/setup" "$T/out"
	echo 'echo setup ran' >"$T/setup/run.sh"
	local before boot_before ls_before
	before=$(listing "$T/root")
	boot_before=$(listing "$T/root/boot/firmware")
	ls_before=$(ls -lA --time-style=full-iso "$T/root" "$T/root/etc")

	# Name resolution: the host's resolver, where the image's link leads.
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/setup:/run/setup" \
		--bind "$T/out:/tmp/out" --setenv X=1 --log "$T/out/log" \
		sh -c 'cat /etc/resolv.conf; readlink /etc/resolv.conf; sh /run/setup/run.sh; echo x >/tmp/out/x'
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "$(cat /etc/resolv.conf; echo ../run/systemd/resolve/stub-resolv.conf; echo setup ran)" ]
	if getent hosts deb.debian.org >/dev/null 2>&1; then
		run --separate-stderr img-nspawn-run --root "$T/root" busybox nslookup deb.debian.org
		echo "$output $stderr"
		[ "$status" -eq 0 ]
	fi

	[ "$(readlink "$T/root/etc/resolv.conf")" = ../run/systemd/resolve/stub-resolv.conf ]
	[ "$(listing "$T/root")" = "$before" ]
	[ "$(listing "$T/root/boot/firmware")" = "$boot_before" ]
	[ "$(ls -lA --time-style=full-iso "$T/root" "$T/root/etc")" = "$ls_before" ]
	[ -z "$(find "$T/root" -xdev -name 'qemu-*')" ]
	# And nothing is left mounted in it.
	[ "$(awk -v d="$T" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort)" = \
		"$(printf '%s\n' "$T/root" "$T/root/boot/firmware")" ]
}

@test "resolv.conf: a regular file is shown the host's and kept; a link through /var/run is followed; one leading elsewhere is left alone" {
	image_mount
	local before host
	host=$(cat /etc/resolv.conf)
	rm "$T/root/etc/resolv.conf"
	echo "nameserver 192.0.2.1" >"$T/root/etc/resolv.conf"
	before=$(listing "$T/root")
	run --separate-stderr img-nspawn-run --root "$T/root" cat /etc/resolv.conf
	[ "$status" -eq 0 ]
	[ "$output" = "$host" ]
	[ -z "$stderr" ]
	[ "$(cat "$T/root/etc/resolv.conf")" = "nameserver 192.0.2.1" ]
	[ "$(listing "$T/root")" = "$before" ]

	# Debian's resolvconf: /var/run -> /run, and /run is the container's.
	ln -sfn /var/run/resolvconf/resolv.conf "$T/root/etc/resolv.conf"
	ln -s /run "$T/root/var/run"
	before=$(listing "$T/root")
	run --separate-stderr img-nspawn-run --root "$T/root" cat /etc/resolv.conf
	[ "$status" -eq 0 ]
	[ "$output" = "$host" ]
	[ -z "$stderr" ]
	[ "$(listing "$T/root")" = "$before" ]

	# Dangling, and not on the container's tmpfs: a bind would create it.
	ln -sfn ../srv/resolv.conf "$T/root/etc/resolv.conf"
	before=$(listing "$T/root")
	run --separate-stderr img-nspawn-run --root "$T/root" true
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-nspawn-run: the image's /etc/resolv.conf leads nowhere the host's can be put without changing the image; names will not resolve inside it" ]
	[ "$(listing "$T/root")" = "$before" ]

	# A host without one.
	ln -sfn ../run/systemd/resolve/stub-resolv.conf "$T/root/etc/resolv.conf"
	run --separate-stderr unshare -m sh -c 'mount --bind /dev/null /etc/resolv.conf && exec img-nspawn-run --root "$1" true' sh "$T/root"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-nspawn-run: this host has no /etc/resolv.conf file; names will not resolve inside the image" ]
}

@test "a bind to a place the image lacks, outside /run and /tmp, is said in one line" {
	image_mount
	mkdir "$T/src"
	run --separate-stderr img-nspawn-run --root "$T/root" --bind-ro "$T/src:/srv/new" true
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-nspawn-run: '/srv/new' is not in the image; systemd-nspawn creates it there for the bind" ]
	[ -d "$T/root/srv/new" ]
}

# --- output ----------------------------------------------------------------------------

INTERLEAVED='for n in 1 2 3 4 5; do echo out$n; echo err$n >&2; done'
# What --log puts before each line.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '

@test "stdout and stderr are not reordered, with or without --log" {
	image_mount
	local expected
	expected=$(for n in 1 2 3 4 5; do printf 'out%s\nerr%s\n' "$n" "$n"; done)

	img-nspawn-run --root "$T/root" sh -c "$INTERLEAVED" >"$T/both" 2>&1
	[ "$(cat "$T/both")" = "$expected" ]
	run --separate-stderr img-nspawn-run --root "$T/root" sh -c "$INTERLEAVED"
	[ "$output" = "$(printf 'out%s\n' 1 2 3 4 5)" ]
	[ "$stderr" = "$(printf 'err%s\n' 1 2 3 4 5)" ]

	# --log, both to one place: one pipe, the exact order, in the log too.
	img-nspawn-run --root "$T/root" --log "$T/log" sh -c "$INTERLEAVED; printf 'no newline'" >"$T/both" 2>&1
	[ "$(cat "$T/both")" = "$expected"$'\nno newline' ]
	[ "$(grep -cvE "^$TS" "$T/log")" -eq 0 ]
	[ "$(sed -E "s/^$TS//" "$T/log")" = "img-nspawn-run: in '$T/root': sh -c $INTERLEAVED; printf 'no newline'
$expected
no newline
img-nspawn-run: exit status 0" ]

	# --log, apart: each stream in its order, and all of it in the log.
	rm "$T/log"
	run --separate-stderr img-nspawn-run --root "$T/root" --log "$T/log" sh -c "$INTERLEAVED; exit 3"
	[ "$status" -eq 3 ]
	[ "$output" = "$(printf 'out%s\n' 1 2 3 4 5)" ]
	[ "$stderr" = "$(printf 'err%s\n' 1 2 3 4 5)" ]
	[ "$(sed -E "s/^$TS//" "$T/log" | grep '^out')" = "$output" ]
	[ "$(sed -E "s/^$TS//" "$T/log" | grep '^err')" = "$stderr" ]
	[ "$(tail -n 1 "$T/log" | sed -E "s/^$TS//")" = "img-nspawn-run: exit status 3" ]

	run --separate-stderr img-nspawn-run --root "$T/root" --log "$T/no/such/dir/log" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: cannot open '$T/no/such/dir/log': No such file or directory" ]
}

@test "--log: the command line as a note, cut where it does not fit" {
	image_mount
	# A long program name, and a command whose newlines each log as two bytes.
	local name nl
	name=img-nspawn-run-$(printf 'x%.0s' {1..200})
	mkdir "$T/bin"
	ln -s "$(command -v img-nspawn-run)" "$T/bin/$name"
	printf -v nl '\n%.0s' {1..4100}
	run --separate-stderr "$T/bin/$name" --root "$T/root" --log "$T/log" sh -c "true$nl"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	local first
	first=$(head -n 1 "$T/log" | sed -E "s/^$TS//")
	[[ $first == "$name: in '$T/root': sh -c true\\n\\n\\n"* ]]
	[ "${#first}" -le 8192 ]
	[ "$(tail -n 1 "$T/log" | sed -E "s/^$TS//")" = "$name: exit status 0" ]
}

# unbuffered [--log FILE]: the command's first lines reach us while it still
# runs (it waits for a file the test makes only after seeing them).
unbuffered() {
	mkdir -p "$T/flag"
	rm -f "$T/flag/go"
	# There before the command starts, for the grep below.
	: >"$T/out"
	img-nspawn-run --root "$T/root" "$@" --bind "$T/flag:/run/flag" sh -c '
		echo first; echo first-err >&2
		n=0; while [ ! -e /run/flag/go ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
		echo last' >"$T/out" 2>&1 3>&- &
	local pid=$! n
	BG_KILL+=("$pid")
	for ((n = 0; n < 300; n++)); do
		[ "$(grep -c first "$T/out")" -lt 2 ] || break
		sleep 0.1
	done
	[ "$(cat "$T/out")" = "first
first-err" ]
	touch "$T/flag/go"
	wait "$pid"
	[ "$(cat "$T/out")" = "first
first-err
last" ]
}

@test "output comes through while the command still runs, with or without --log" {
	image_mount
	unbuffered
	unbuffered --log "$T/log"
	[ "$(grep -cE "^${TS}(first|first-err|last)\$" "$T/log")" -eq 3 ]
}

# --- signals, --shell, and how systemd-nspawn is run ------------------------------------------

# signalled SIGNAL: runs a command that waits long, sends SIGNAL to
# img-nspawn-run once the command has started; sets RC to its status.
signalled() {
	rm -f "$T/out"
	img-nspawn-run --root "$T/root" sh -c 'echo started; sleep 60; :' "$T/marker" >"$T/out" 2>"$T/err" 3>&- &
	local pid=$! n
	BG_KILL+=("$pid")
	for ((n = 0; n < 300; n++)); do
		[ ! -s "$T/out" ] || break
		sleep 0.1
	done
	[ "$(cat "$T/out")" = started ]
	pgrep -f -- "$T/marker" >/dev/null
	kill "-$1" "$pid"
	RC=0
	wait "$pid" || RC=$?
	# The command, which carries the marker, is gone too.
	for ((n = 0; n < 200; n++)); do
		! pgrep -f -- "$T/marker" >/dev/null && [ -z "$(nspawn_pids)" ] && return 0
		sleep 0.05
	done
	echo "still running:" >&2
	pgrep -af -- "$T" >&2
	return 1
}

@test "SIGTERM or SIGKILL to img-nspawn-run stops the command (143 for SIGTERM); nothing is left running" {
	image_mount
	signalled TERM
	[ "$RC" -eq 143 ]
	signalled KILL
	[ "$RC" -eq 137 ]
}

@test "--shell: an interactive shell through a terminal; refused without one" {
	image_mount
	run --separate-stderr img-nspawn-run --root "$T/root" --shell </dev/null
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-nspawn-run: --shell needs a terminal on standard input" ]

	command -v script >/dev/null || skip "script (util-linux) is not installed"
	# The shell computes 42: an echo of the typed line would not show it.
	run bash -c 'printf "echo hi\$((6 * 7)); exit 4\n" |
		script -qec "img-nspawn-run --root $1 --shell" /dev/null' bash "$T/root"
	echo "$output"
	[ "$status" -eq 4 ]
	[[ $output == *"img-nspawn-run: a shell in '$T/root'; 'exit' leaves it"* ]]
	grep -qx $'hi42\r\\?' <<<"$output"
}

@test "-v shows how systemd-nspawn is run: unregistered without systemd and a system bus" {
	image_mount
	[ ! -d /run/systemd/system ] || skip "this host runs systemd"
	run --separate-stderr img-nspawn-run -v --root "$T/root" true
	[ "$status" -eq 0 ]
	printf '%s\n' "${stderr_lines[@]}" | grep -qx "img-nspawn-run: no system bus: running with --register=no --keep-unit"
	printf '%s\n' "${stderr_lines[@]}" | grep -q "^img-nspawn-run: systemd-nspawn .* --register=no --keep-unit .*--directory=$T/root .* -- true$"
}

# --- binfmt_misc ------------------------------------------------------------------------------

@test "binfmt_misc: qemu-user-static's entry registered with F; a disabled or broken one replaced, a working F-less one kept; the state found restored" {
	image_mount
	host_is_aarch64 && skip "needs a host that is not aarch64"
	binfmt_save
	local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[ -f "$conf" ] || conf=/usr/share/binfmts/qemu-aarch64
	[ -f "$conf" ] || skip "qemu-user-static is not installed"
	local said="img-nspawn-run: registered binfmt_misc entry 'qemu-aarch64' from '$conf' to run aarch64 programs"

	echo -1 >"$QEMU_ENTRY"
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$status" -eq 0 ]
	[ "$output" = aarch64 ]
	[ "$stderr" = "$said" ]
	grep -qx enabled "$QEMU_ENTRY"
	grep -q '^flags: .*F' "$QEMU_ENTRY"
	# Registered: nothing more to say.
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$output" = aarch64 ]
	[ -z "$stderr" ]

	# Registered but disabled does not count.
	echo 0 >"$QEMU_ENTRY"
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$output" = aarch64 ]
	[ "$stderr" = "$said" ]
	grep -qx enabled "$QEMU_ENTRY"

	# Without F the emulator would be looked for inside the image. A
	# working entry is never removed (other builds, or the host, may be
	# starting programs through it): ours goes beside it, and the kernel
	# tries the newest entry first.
	local line
	line=$(binfmt_line | sed 's/:[A-Z]*$/:P/')
	echo -1 >"$QEMU_ENTRY"
	echo "$line" >/proc/sys/fs/binfmt_misc/register
	[ "$(grep '^flags:' "$QEMU_ENTRY")" = "flags: P" ]
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$output" = aarch64 ]
	[ "$stderr" = "img-nspawn-run: registered binfmt_misc entry 'rtik-qemu-aarch64' from '$conf' to run aarch64 programs" ]
	[ "$(grep '^flags:' "$QEMU_ENTRY")" = "flags: P" ]
	grep -qx enabled "$QEMU_ENTRY"
	grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/rtik-qemu-aarch64
	echo -1 >/proc/sys/fs/binfmt_misc/rtik-qemu-aarch64

	# An entry whose emulator is gone works for nobody: replaced.
	line=$(binfmt_line | sed 's|:[^:]*:[A-Z]*$|:/nonexistent/qemu-aarch64:P|')
	echo -1 >"$QEMU_ENTRY"
	echo "$line" >/proc/sys/fs/binfmt_misc/register
	grep -qx 'interpreter /nonexistent/qemu-aarch64' "$QEMU_ENTRY"
	run --separate-stderr img-nspawn-run --root "$T/root" uname -m
	[ "$output" = aarch64 ]
	[ "$stderr" = "$said" ]
	grep -q '^flags: .*F' "$QEMU_ENTRY"
	[ ! -e /proc/sys/fs/binfmt_misc/rtik-qemu-aarch64 ]

	# Nothing was copied into the image.
	[ -z "$(find "$T/root" -xdev -name 'qemu-*')" ]
}
