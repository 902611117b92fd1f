#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# shellcheck disable=SC2016 # the commands in single quotes run in the booted image
# img-boot: usage, images it refuses before QEMU starts (built here, small),
# and real boots of the trixie image (few: each costs a minute or more): a
# timeout, a signal, Ubuntu's A/B layout (from a path with a blank, a quote
# and commas, with a malformed user-data) and a truncated initrd; the
# command's quoting, the image left unchanged, /tmp and the process table
# left as they were. rt-check in the emulator, the command's status and
# --keep-writes: trixie-firstboot.bats.

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper

setup_file() {
	# The shared image, built now if this is the suite's first use of it.
	if [ -n "${RTIK_TRIXIE_IMAGE:-}" ] || [ "$(id -u)" -eq 0 ]; then
		trixie_image >/dev/null
	fi
}

setup() {
	common_setup
	# img-boot's temporary directory goes here: empty again after each run.
	mkdir -p "$T/tmp"
	export TMPDIR=$T/tmp
	BG_PID=
	U=
}

teardown() {
	[ -z "$U" ] || rm -rf "$U"
	if [ -n "$BG_PID" ]; then
		kill -9 "$BG_PID" 2>/dev/null || true
		wait "$BG_PID" 2>/dev/null || true
	fi
	local p
	for p in $(qemu_pids); do
		kill -9 "$p" 2>/dev/null || true
	done
}

# The QEMU processes booting something under $T's temporary directory.
qemu_pids() {
	local p
	for p in $(pgrep -x qemu-system-aar 2>/dev/null; pgrep -f '^qemu-system-aarch64 ' 2>/dev/null); do
		tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$T/tmp/img-boot\." && echo "$p"
	done | sort -u
	return 0
}

assert_clean() {
	local left
	left=$(ls -A "$T/tmp")
	[ -z "$left" ] || { echo "left in TMPDIR: $left" >&2; return 1; }
	[ -z "$(qemu_pids)" ] || { echo "QEMU left running: $(qemu_pids)" >&2; return 1; }
}

# mkimg IMG [boot-files...]: a 64 MiB MBR image with a FAT partition 1
# holding config.txt and cmdline.txt (plus the named files, empty), and an
# ext4 partition 2.
mkimg() {
	local img=$1 f
	shift
	truncate -s 64M "$img"
	printf 'label: dos\n2048,32M,c\n67584,,83\n' | sfdisk -q "$img"
	mkfs.vfat -n RASPIFIRM --offset 2048 "$img" $((32 * 1024)) >/dev/null
	mkfs.ext4 -q -F -L RASPIROOT -E offset=$((67584 * 512)) "$img" 30M
	printf 'arm_64bit=1\n[pi5]\nkernel=wrong\n[all]\nkernel=vmlinuz-test\ninitramfs initrd.img-test followkernel\n' >"$T/config.txt"
	printf 'console=tty0 root=LABEL=RASPIROOT rw\n' >"$T/cmdline.txt"
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img@@1048576" "$T/config.txt" "$T/cmdline.txt" ::
	for f in "$@"; do
		: >"$T/$f"
		MTOOLS_SKIP_CHECK=1 mcopy -i "$img@@1048576" "$T/$f" ::
	done
}

# ---- usage ----

@test "--help and --version" {
	run img-boot --help
	[ "$status" -eq 0 ]
	[[ $output == *"Usage: img-boot [OPTION]... IMAGE"* ]]
	[[ $output == *"124 timeout; 125"* ]]
	run img-boot --version
	[ "$status" -eq 0 ]
	[[ $output == "img-boot "* ]]
}

@test "usage errors exit 2 with one line" {
	run --separate-stderr img-boot
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-boot: no image given" ]
	run --separate-stderr img-boot a b
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "img-boot: too many arguments" ]
	run --separate-stderr img-boot --machine pc x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: unknown machine 'pc': virt or raspi4b" ]
	run --separate-stderr img-boot --cpus 0 x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --cpus wants at least 1" ]
	run --separate-stderr img-boot --timeout 5s x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --timeout wants a number from 0 to 604800, not '5s'" ]
	run --separate-stderr img-boot --memory 1M x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: invalid memory size '1M': want at least 64M" ]
	run --separate-stderr img-boot --interactive --run true x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --interactive cannot be combined with --run" ]
	run --separate-stderr img-boot --bogus x.img
	[ "$status" -eq 2 ]
	local bad
	for bad in run/report:out /run/report /run/report: :out; do
		run --separate-stderr img-boot --copy-out "$bad" x.img
		[ "$status" -eq 2 ]
		[ "$stderr" = "img-boot: --copy-out wants GUEST_PATH:HOST_DIR with an absolute GUEST_PATH, not '$bad'" ]
	done
	run --separate-stderr img-boot --copy-out /a:b --copy-out /c:d x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --copy-out may be given once" ]
	run --separate-stderr img-boot --interactive --copy-out /a:b x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --interactive cannot be combined with --copy-out" ]
	run --separate-stderr img-boot --machine raspi4b --copy-out /a:b x.img
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-boot: --copy-out needs the virt machine (raspi4b has no second disk)" ]
	assert_clean
}

# ---- images refused before QEMU starts ----

@test "a missing image: 125, one line" {
	run --separate-stderr img-boot "$T/nope.img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot open '$T/nope.img': No such file or directory" ]
	assert_clean
}

@test "a directory, an image without a partition table, one without a FAT partition" {
	run --separate-stderr img-boot "$T"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T': not an image file or a block device" ]

	truncate -s 8M "$T/blank.img"
	run --separate-stderr img-boot "$T/blank.img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/blank.img': it has no partition table" ]

	truncate -s 64M "$T/noboot.img"
	printf 'label: dos\n2048,,83\n' | sfdisk -q "$T/noboot.img"
	mkfs.ext4 -q -F -E offset=1048576 "$T/noboot.img" 60M
	run --separate-stderr img-boot "$T/noboot.img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/noboot.img': it has no boot partition (no FAT partition)" ]
	assert_clean
}

@test "no kernel on the boot partition: 125, one line naming config.txt's kernel, nothing left" {
	mkimg "$T/img" initrd.img-test
	run --separate-stderr img-boot --timeout 30 "$T/img"
	[ "$status" -eq 125 ]
	# [pi5]'s kernel= does not apply, [all]'s does.
	[ "$stderr" = "img-boot: cannot boot '$T/img': its boot partition (1) has no kernel 'vmlinuz-test'" ]
	assert_clean
}

@test "no initramfs named by config.txt: 125" {
	mkimg "$T/img" VMLINUZ-TEST
	run --separate-stderr img-boot "$T/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/img': its boot partition (1) has no initramfs 'initrd.img-test'" ]
	assert_clean
}

@test "--copy-out into a directory that cannot be made: 125, one line, before QEMU starts" {
	mkimg "$T/img" vmlinuz-test initrd.img-test
	: >"$T/file"
	run --separate-stderr img-boot --copy-out "/run/x:$T/file/sub" "$T/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/img' with --copy-out: cannot make the directory '$T/file/sub'" ]
	assert_clean
}

@test "a command too long for the kernel command line: 125, nothing left" {
	mkimg "$T/img" vmlinuz-test initrd.img-test
	run --separate-stderr img-boot --run "$(printf 'x%.0s' {1..1600})" "$T/img"
	[ "$status" -eq 125 ]
	[[ $stderr == "img-boot: cannot boot '$T/img': the kernel command line would be longer than 2047 bytes"* ]]
	assert_clean
}

@test "an ordinary user boots a read-only image it can read (no QEMU here: stops at its absence)" {
	require_root
	# Outside bats' own directories, which only root may enter.
	U=$(mktemp -d /tmp/img-boot-user.XXXXXX)
	chmod 0755 "$U"
	mkdir -m 1777 "$U/tmp"
	mkdir "$U/bin"
	mkimg "$U/img" vmlinuz-test initrd.img-test
	chmod 0444 "$U/img"
	ln -s "$(command -v mdir)" "$U/bin/mdir"
	ln -s "$(command -v mcopy)" "$U/bin/mcopy"
	# A copy: the tree may be where only root can read (a checkout in /root).
	cp "$(command -v img-boot)" "$U/bin/img-boot"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env PATH="$U/bin" TMPDIR="$U/tmp" "$U/bin/img-boot" "$U/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$U/img': qemu-system-aarch64 is not installed (qemu-system-arm)" ]
	[ -z "$(ls -A "$U/tmp")" ]
}

@test "raspi4b: a QEMU without the machine (older than 9.0) is one line" {
	mkimg "$T/img" vmlinuz-test initrd.img-test bcm2711-rpi-4-b.dtb
	# Debian 12's QEMU, whatever this host has.
	mkdir -p "$T/bin"
	cat >"$T/bin/qemu-system-aarch64" <<'SH'
#!/bin/sh
case "$*" in
"-machine help") printf 'Supported machines are:\nraspi3b              Raspberry Pi 3B (revision 1.2)\nvirt                 QEMU 7.2 ARM Virtual Machine (alias of virt-7.2)\n' ;;
--version) echo "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" ;;
*) exit 1 ;;
esac
SH
	chmod 0755 "$T/bin/qemu-system-aarch64"
	PATH=$T/bin:$PATH run --separate-stderr img-boot --machine raspi4b "$T/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/img' on raspi4b: qemu-system-aarch64 7.2.22 has no raspi4b machine (QEMU 9.0 and newer have)" ]
	assert_clean
}

@test "virt under TCG: kpti=0 on the kernel command line, unless the image's cmdline.txt or --append sets kpti=" {
	[ "$(uname -m)" != aarch64 ] || [ ! -w /dev/kvm ] || skip "KVM here: no TCG"
	mkimg "$T/img" vmlinuz-test initrd.img-test
	# A QEMU that writes down its kernel command line and boots nothing.
	mkdir -p "$T/bin"
	cat >"$T/bin/qemu-system-aarch64" <<'SH'
#!/bin/sh
while [ $# -gt 0 ]; do
	[ "$1" != -append ] || printf '%s\n' "$2" | tr ' ' '\n' | grep -E '^(kpti|panic|console)=' >>"${0%/*}/cmdline"
	shift
done
SH
	chmod 0755 "$T/bin/qemu-system-aarch64"
	PATH=$T/bin:$PATH run --separate-stderr img-boot --timeout 30 "$T/img"
	[ "$status" -eq 125 ]
	[ "$(cat "$T/bin/cmdline")" = "$(printf 'console=ttyAMA0\npanic=-1\nkpti=0')" ]
	rm "$T/bin/cmdline"
	PATH=$T/bin:$PATH run --separate-stderr img-boot --timeout 30 --append "quiet kpti=1" "$T/img"
	[ "$status" -eq 125 ]
	[ "$(cat "$T/bin/cmdline")" = "$(printf 'console=ttyAMA0\npanic=-1\nkpti=1')" ]
	rm "$T/bin/cmdline"
	printf 'root=LABEL=RASPIROOT kpti=1 rw\n' >"$T/cmdline.txt"
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$T/img@@1048576" "$T/cmdline.txt" ::
	PATH=$T/bin:$PATH run --separate-stderr img-boot --timeout 30 "$T/img"
	[ "$status" -eq 125 ]
	[ "$(cat "$T/bin/cmdline")" = "$(printf 'kpti=1\nconsole=ttyAMA0\npanic=-1')" ]
	assert_clean
}

# ---- real boots ----

# rt-check in the booted image (its report under load brought back with
# --copy-out, a failing unit named, --max-latency 1 failing, the status
# coming back): in trixie-firstboot.bats, on the second boot of its card,
# whose kernel is the upgraded one (a boot under emulation costs a minute and
# more).

# The command's quotes and $ intact, the image unchanged, from an image path
# with a blank, a quote and commas: the A/B boot below.

@test "boot: --timeout 5 gives 124, QEMU gone, nothing left" {
	local img start
	img=$(trixie_image)
	start=$SECONDS
	run --separate-stderr img-boot --timeout 5 "$img"
	[ "$status" -eq 124 ]
	[ "$stderr" = "img-boot: $img: timed out after 5 s, before the system had booted" ] ||
		[[ $stderr == "img-boot: $img: timed out after 5 s, before the system had booted, userspace after "* ]]
	[ $((SECONDS - start)) -lt 15 ]
	assert_clean
}

@test "boot: SIGTERM ends QEMU and removes the temporary files" {
	local img
	img=$(trixie_image)
	img-boot "$img" 2>"$T/err" &
	BG_PID=$!
	sleep 4
	[ -n "$(qemu_pids)" ]
	kill -TERM "$BG_PID"
	local rc=0
	wait "$BG_PID" || rc=$?
	BG_PID=
	[ "$rc" -eq 143 ]
	grep -q "interrupted by signal 15" "$T/err"
	assert_clean
}

# ab_layout IMG: a copy of the trixie image at IMG, its boot partition laid
# out as Ubuntu's A/B boot (25.10 on): the kernel, the initramfs, the
# device trees and cmdline.txt (marked rtik.slot=current) in current/ with
# state "good", nothing of them at the top; config.txt with
# os_prefix=current/ under [all] and os_prefix=new/ under [tryboot]; new/
# with the same kernel, a truncated initramfs and rtik.slot=new, state
# "unknown".
ab_layout() {
	local img=$1 off rel f d=$T/ab
	cp --sparse=always "$(trixie_image)" "$img"
	off=$(part_offset "$img" 1)
	rel=$(boot_cat "$img" config.txt | sed -n 's/^kernel=vmlinuz-//p')
	[ -n "$rel" ]
	mkdir -p "$d/current" "$d/new"
	export MTOOLS_SKIP_CHECK=1
	for f in "vmlinuz-$rel" "initrd.img-$rel" bcm2711-rpi-4-b.dtb cmdline.txt; do
		mcopy -i "$img@@$off" "::$f" "$d/current/$f"
		mdel -i "$img@@$off" "::$f"
	done
	sed -i '1s/$/ rtik.slot=current/' "$d/current/cmdline.txt"
	cp "$d/current/vmlinuz-$rel" "$d/new/"
	sed 's/rtik.slot=current/rtik.slot=new/' "$d/current/cmdline.txt" >"$d/new/cmdline.txt"
	head -c 1M "$d/current/initrd.img-$rel" >"$d/new/initrd.img-$rel"
	echo good >"$d/current/state"
	echo unknown >"$d/new/state"
	printf '[all]\nos_prefix=current/\n\n[tryboot]\nos_prefix=new/\n\n[all]\narm_64bit=1\nenable_uart=1\nupstream_kernel=1\nkernel=vmlinuz-%s\ninitramfs initrd.img-%s followkernel\n' \
		"$rel" "$rel" >"$d/config.txt"
	mcopy -o -i "$img@@$off" "$d/config.txt" ::config.txt
	mcopy -s -i "$img@@$off" "$d/current" "$d/new" ::
	unset MTOOLS_SKIP_CHECK
	rm -rf "$d"
}

@test "boot: an image at a path with a blank, a quote and commas, in Ubuntu's A/B layout, with a malformed user-data: the A/B state; the command's quotes intact; multi-user all the same, cloud-init's failure in the journal, then off; --copy-out of a path the guest lacks; the image unchanged" {
	# QEMU splits -drive's options at commas: the image's name must reach
	# it whole.
	local d="$T/o'brien, a b" img sum
	mkdir -p "$d"
	img="$d/trixie,rt.img"
	ab_layout "$img"
	# A malformed user-data, written by hand without cmdline.txt's hint
	# (cloud-init finds the partition by its label alone): the device must
	# still boot, keep the build's user and host name, and turn cloud-init
	# off all the same.
	printf '#cloud-config\nhostname: broken\nusers:\n  - name: x\n   bad indent: [\n' >"$T/user-data"
	printf 'instance-id: by-hand-1\n' >"$T/meta-data"
	boot_put "$img" "$T/user-data" "$T/meta-data"
	sum=$(sha256sum <"$img")
	run --separate-stderr img-boot --timeout 600 --log "$T/console" \
		--copy-out "/nonexistent:$T/never" \
		--run 'uname -m; printf "<%s>\n" "it'"'"'s" "\$HOME & %s" "a  b"
			echo "SLOT $(tr " " "\n" </proc/cmdline | grep "^rtik.slot=")"; rt-check --duration 0 --only board,boot
			echo "TARGET $(systemctl is-active multi-user.target)"
			for i in $(seq 180); do [ -e /etc/cloud/cloud-init.disabled ] && break; sleep 1; done
			journalctl -b -q -o cat -u rt-firstboot-done.service | sed -n "s/^rt-firstboot-done: cloud-init: /CLOUDINIT /p"
			echo "CLOUDOFF $(test -e /etc/cloud/cloud-init.disabled && echo yes) $(id -un rt) $(hostname)"' "$img"
	# The command passed; what --copy-out names is not in the guest: one
	# line, 125, nothing in the directory (made before the boot).
	[ "$status" -eq 125 ]
	[ "${stderr_lines[-1]}" = "img-boot: $img: --copy-out: '/nonexistent' does not exist in the guest" ]
	[ -z "$(ls -A "$T/never")" ]
	tr -d '\r' <"$T/console" >"$T/console.txt"
	grep -qx aarch64 "$T/console.txt"
	grep -qx "<it's>" "$T/console.txt"
	grep -qx '<$HOME & %s>' "$T/console.txt"
	grep -qx '<a  b>' "$T/console.txt"
	grep -q '^SLOT rtik.slot=current' "$T/console.txt"
	# rt-check reads the A/B state from the booted system's boot partition.
	grep -q '^boot: ok (A/B: current/ good, new/ unknown (tried at the next boot))' "$T/console.txt"
	grep -q '^board: skip (not a Raspberry Pi 4 or 5: linux,dummy-virt)' "$T/console.txt"
	# The malformed user-data: multi-user reached, cloud-init's complaint in
	# the journal, nothing of it applied, cloud-init off.
	grep -qx 'TARGET active' "$T/console.txt"
	grep -q '^CLOUDINIT status: ' "$T/console.txt"
	# (The image's disk is vdb here: --copy-out's disk, on PCI, comes first.)
	grep -Eq '^CLOUDINIT detail: DataSourceNoCloud \[seed=/dev/vd[ab]1\]' "$T/console.txt"
	grep -qi '^CLOUDINIT .*yaml' "$T/console.txt"
	grep -q '^CLOUDOFF yes rt rt-pi4' "$T/console.txt"
	# Nothing left in TMPDIR or running; the image as it was.
	assert_clean
	[ "$(sha256sum <"$img")" = "$sum" ]
}

@test "boot: --tryboot reads [tryboot]'s os_prefix (new/): its truncated initrd ends in 125 with one line, well within the timeout" {
	local start
	ab_layout "$T/ab.img"
	start=$SECONDS
	run --separate-stderr img-boot --tryboot --timeout 300 --log "$T/console" "$T/ab.img"
	[ "$status" -eq 125 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "img-boot: $T/ab.img: the system did not boot: "* ]]
	[ $((SECONDS - start)) -lt 200 ]
	grep -q 'Kernel command line: .*rtik.slot=new' "$T/console"
	assert_clean
}

@test "--tryboot without a [tryboot] section: the files of [all], as the firmware does; a missing os_prefix directory: one line" {
	mkimg "$T/img" vmlinuz-test
	run --separate-stderr img-boot --tryboot "$T/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/img': its boot partition (1) has no initramfs 'initrd.img-test'" ]
	printf '[all]\nos_prefix=current/\nkernel=vmlinuz-test\n' >"$T/config.txt"
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$T/img@@1048576" "$T/config.txt" ::config.txt
	run --separate-stderr img-boot "$T/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot boot '$T/img': its boot partition (1) has no cmdline.txt 'current/cmdline.txt'" ]
	assert_clean
}

@test "--keep-writes on an image it cannot write: 125, one line, before QEMU starts; nothing left" {
	require_root
	U=$(mktemp -d /tmp/img-boot-user.XXXXXX)
	chmod 0755 "$U"
	mkdir -m 1777 "$U/tmp"
	mkimg "$U/img" vmlinuz-test initrd.img-test
	chmod 0444 "$U/img"
	cp "$(command -v img-boot)" "$U/img-boot"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env TMPDIR="$U/tmp" "$U/img-boot" --keep-writes "$U/img"
	[ "$status" -eq 125 ]
	[ "$stderr" = "img-boot: cannot open '$U/img' to write (--keep-writes): Permission denied" ]
	[ -z "$(ls -A "$U/tmp")" ]
	# Without it, the same image is only read (and this host has no QEMU
	# on that PATH: it stops there).
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env PATH=/nonexistent TMPDIR="$U/tmp" "$U/img-boot" "$U/img"
	[ "$status" -eq 125 ]
	[[ $stderr != *"to write"* ]]
}
