#!/usr/bin/env bats
# img-overlay: what is copied and how, the perms file, hostile images, type
# clashes, the dry run, and the error paths.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	common_setup
	require_root
	SRC=$T/src
	ROOT=$T/root
	mkdir -p "$SRC" "$ROOT/etc" "$ROOT/tmp"
	chmod 1777 "$ROOT/tmp"
	printf 'root:x:0:0:root:/root:/bin/sh\nrobot:x:1234:1235::/home/robot:/bin/sh\n' >"$ROOT/etc/passwd"
	printf 'root:x:0:\nrobot:x:1235:\n' >"$ROOT/etc/group"
}

teardown() {
	block_cleanup
}

# mode owner links mtime, as find prints them
meta() { find "$1" -maxdepth 0 -printf '%m %U:%G %n %T@\n'; }

@test "--help and --version" {
	run --separate-stderr img-overlay --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: img-overlay "* ]]
	run --separate-stderr img-overlay --version
	[[ $output =~ ^img-overlay\ [0-9] ]]
}

@test "usage errors exit 2" {
	run --separate-stderr img-overlay "$ROOT"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-overlay: want at least one SRC and the ROOT" ]
	run --separate-stderr img-overlay --owner 1:1 --preserve-owner "$SRC" "$ROOT"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-overlay: --owner and --preserve-owner exclude each other" ]
	run --separate-stderr img-overlay --owner nobody-here:root "$SRC" "$ROOT"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-overlay: unknown owner 'nobody-here:root' (not a number, nor in the image's /etc/passwd and /etc/group)" ]
}

@test "a missing SRC or ROOT fails in one line" {
	run --separate-stderr img-overlay "$T/nope" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: cannot open '$T/nope': No such file or directory" ]
	run --separate-stderr img-overlay "$SRC" "$T/nope"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: cannot open '$T/nope': No such file or directory" ]
}

@test "files, directories and symlinks are copied with modes and mtimes, owned by root" {
	mkdir -p "$SRC/usr/local/bin" "$SRC/etc/app"
	printf '#!/bin/sh\necho hi\n' >"$SRC/usr/local/bin/hi"
	chmod 0750 "$SRC/usr/local/bin/hi"
	echo conf >"$SRC/etc/app/app.conf"
	chmod 0600 "$SRC/etc/app/app.conf"
	chmod 0700 "$SRC/etc/app"
	ln -s ../../etc/app/app.conf "$SRC/usr/local/bin/conf-link"
	ln -s /etc/shadow "$SRC/etc/app/shadow-link"
	touch -d '2001-02-03 04:05:06' "$SRC/etc/app/app.conf" "$SRC/etc/app"
	chown -R 1000:1000 "$SRC"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-overlay: $SRC: 4 created, 0 replaced, 0 unchanged, 0 perms" ]
	[ "$(cat "$ROOT/usr/local/bin/hi")" = "$(cat "$SRC/usr/local/bin/hi")" ]
	[ "$(meta "$ROOT/usr/local/bin/hi" | cut -d' ' -f1,2)" = "750 0:0" ]
	[ "$(meta "$ROOT/etc/app/app.conf")" = "600 0:0 1 $(stat -c %Y "$SRC/etc/app/app.conf").0000000000" ]
	# A directory the overlay made takes its mode, owner and mtime.
	[ "$(meta "$ROOT/etc/app")" = "700 0:0 2 $(stat -c %Y "$SRC/etc/app").0000000000" ]
	# Links are copied as links, never followed.
	[ "$(readlink "$ROOT/usr/local/bin/conf-link")" = ../../etc/app/app.conf ]
	[ "$(readlink "$ROOT/etc/app/shadow-link")" = /etc/shadow ]
	[ "$(stat -c %u:%g "$ROOT/etc/app/shadow-link")" = 0:0 ]
}

@test "a directory that was there keeps its own mode and owner" {
	mkdir "$SRC/tmp"
	touch "$SRC/tmp/x"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(stat -c %a "$ROOT/tmp")" = 1777 ]
}

@test "--owner and --preserve-owner; names come from the image" {
	echo a >"$SRC/a"
	chown 1000:1001 "$SRC/a"
	img-overlay -q --owner robot:robot "$SRC" "$ROOT"
	[ "$(stat -c %u:%g "$ROOT/a")" = 1234:1235 ]
	img-overlay -q --owner 7:8 "$SRC" "$ROOT"
	[ "$(stat -c %u:%g "$ROOT/a")" = 7:8 ]
	img-overlay -q --preserve-owner "$SRC" "$ROOT"
	[ "$(stat -c %u:%g "$ROOT/a")" = 1000:1001 ]
}

@test "owner names are whole entries of the image's passwd and group, however long a line" {
	# Past 1 KiB into one long line stands what looks like an entry of its
	# own; the entries after the long line are still found.
	local pad
	pad=$(printf '%01012d' 0)
	{
		printf 'long:x:1:1:%sghost:x:4242:4242::/:/bin/sh\n' "$pad"
		printf 'late:x:2001:2001::/:/bin/sh\n'
	} >>"$ROOT/etc/passwd"
	printf 'many:x:3000:%s\nlate:x:2002:\n' "$(printf 'u%d,' $(seq 1 400))" >>"$ROOT/etc/group"
	echo a >"$SRC/a"
	run --separate-stderr img-overlay --owner ghost:root "$SRC" "$ROOT"
	[ "$status" -eq 2 ]
	[ "$stderr" = "img-overlay: unknown owner 'ghost:root' (not a number, nor in the image's /etc/passwd and /etc/group)" ]
	img-overlay -q --owner late:late "$SRC" "$ROOT"
	[ "$(stat -c %u:%g "$ROOT/a")" = 2001:2002 ]
}

@test "hard links within one SRC stay hard links" {
	echo data >"$SRC/one"
	mkdir "$SRC/sub"
	ln "$SRC/one" "$SRC/sub/two"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(stat -c %i "$ROOT/one")" = "$(stat -c %i "$ROOT/sub/two")" ]
	[ "$(stat -c %h "$ROOT/one")" -eq 2 ]
	# And again after the source changed.
	echo new >"$SRC/one"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(stat -c %i "$ROOT/one")" = "$(stat -c %i "$ROOT/sub/two")" ]
	[ "$(cat "$ROOT/sub/two")" = new ]
}

@test "xattrs and file capabilities are kept" {
	echo bin >"$SRC/ping"
	chmod 0755 "$SRC/ping"
	setcap cap_net_raw+ep "$SRC/ping"
	python3 -c "import os; os.setxattr('$SRC/ping', 'user.origin', b'overlay')"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(getcap "$ROOT/ping")" = "$ROOT/ping cap_net_raw=ep" ]
	[ "$(python3 -c "import os; print(os.getxattr('$ROOT/ping', 'user.origin').decode())")" = overlay ]
}

@test "SRCs merge in order and the later one wins" {
	mkdir "$T/src2"
	echo first >"$SRC/f"
	echo only-first >"$SRC/g"
	echo second >"$T/src2/f"
	img-overlay -q "$SRC" "$T/src2" "$ROOT"
	[ "$(cat "$ROOT/f")" = second ]
	[ "$(cat "$ROOT/g")" = only-first ]
}

@test "a replaced file is swapped atomically: a reader never sees it half-written" {
	head -c 4M /dev/urandom >"$SRC/big"
	img-overlay -q "$SRC" "$ROOT"
	local old
	old=$(stat -c %i "$ROOT/big")
	exec 5<"$ROOT/big"
	head -c 4M /dev/urandom >"$SRC/big"
	img-overlay -q "$SRC" "$ROOT"
	# The old inode is intact under the open fd, the name has the new one.
	[ "$(stat -L -c %s /dev/fd/5)" -eq 4194304 ]
	[ "$(stat -c %i "$ROOT/big")" != "$old" ]
	exec 5<&-
	cmp "$SRC/big" "$ROOT/big"
	[ -z "$(find "$ROOT" -name '.img-overlay.*')" ]
}

@test "a second run with nothing changed changes nothing" {
	echo a >"$SRC/a"
	mkdir "$SRC/d"
	ln -s a "$SRC/l"
	img-overlay -q "$SRC" "$ROOT"
	local before
	before=$(find "$ROOT" -printf '%p %i %m %U %T@\n' | sort)
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 0 ]
	[ "$stderr" = "img-overlay: $SRC: 0 created, 0 replaced, 2 unchanged, 0 perms" ]
	[ "$(find "$ROOT" -printf '%p %i %m %U %T@\n' | sort)" = "$before" ]
}

@test "the perms file sets modes and owners, and is not copied" {
	mkdir -p "$SRC/etc/sudoers.d" "$SRC/usr/lib/robot"
	echo 'robot ALL=(ALL) NOPASSWD: ALL' >"$SRC/etc/sudoers.d/robot"
	echo helper >"$SRC/usr/lib/robot/helper"
	cat >"$SRC/.overlay-perms" <<-'P'
		# path mode owner:group
		/etc/sudoers.d/robot 0440 root:root
		usr/lib/robot/helper 4755 0:robot
		/etc/passwd - robot:robot
	P
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 0 ]
	[ "$(stat -c '%a %u:%g' "$ROOT/etc/sudoers.d/robot")" = "440 0:0" ]
	[ "$(stat -c '%a %u:%g' "$ROOT/usr/lib/robot/helper")" = "4755 0:1235" ]
	# Also for a path the image had before.
	[ "$(stat -c '%u:%g' "$ROOT/etc/passwd")" = 1234:1235 ]
	[ ! -e "$ROOT/.overlay-perms" ]
	# Declared modes count as the file's: nothing to redo next time.
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$stderr" = "img-overlay: $SRC: 0 created, 0 replaced, 2 unchanged, 3 perms" ]
}

@test "perms file errors: one line naming the line, nothing copied" {
	echo x >"$SRC/x"
	printf 'x 0644 root:root\nx 0999 root:root\n' >"$SRC/.overlay-perms"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: $SRC/.overlay-perms:2: bad mode '0999'" ]
	[ ! -e "$ROOT/x" ]
	printf 'x 0644\n' >"$SRC/.overlay-perms"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: $SRC/.overlay-perms:1: want 'PATH MODE OWNER:GROUP'" ]
	printf 'x 0644 ghost:root\n' >"$SRC/.overlay-perms"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: $SRC/.overlay-perms:1: unknown owner 'ghost:root' (not a number, nor in the image's /etc/passwd and /etc/group)" ]
	[ ! -e "$ROOT/x" ]
	printf 'missing 0644 root:root\n' >"$SRC/.overlay-perms"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: $SRC/.overlay-perms:1: '/missing' is not in the image" ]
}

@test "hostile image: an absolute directory symlink lands inside the image" {
	rm -rf "$ROOT/etc"
	mkdir -p "$ROOT/private/etc"
	ln -s /private/etc "$ROOT/etc"
	mkdir -p "$SRC/etc"
	echo motd >"$SRC/etc/motd"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(cat "$ROOT/private/etc/motd")" = motd ]
	[ ! -e /private ]
	[ -L "$ROOT/etc" ]
}

@test "hostile image: a dangling link climbing out is followed inside the image" {
	ln -s ../../../../../../../../../../../../tmp/rtik-hostile-$$ "$ROOT/opt"
	mkdir -p "$SRC/opt"
	echo x >"$SRC/opt/x"
	img-overlay -q "$SRC" "$ROOT"
	[ ! -e "/tmp/rtik-hostile-$$" ]
	[ "$(cat "$ROOT/tmp/rtik-hostile-$$/x")" = x ]
}

@test "hostile image: a file that is a link to a host file is replaced, not followed" {
	local before
	before=$(sha256sum /etc/hostname)
	ln -s /etc/hostname "$ROOT/etc/hostname"
	mkdir -p "$SRC/etc"
	echo robot >"$SRC/etc/hostname"
	img-overlay -q "$SRC" "$ROOT"
	[ "$(sha256sum /etc/hostname)" = "$before" ]
	[ ! -L "$ROOT/etc/hostname" ]
	[ "$(cat "$ROOT/etc/hostname")" = robot ]
}

@test "hostile image: perms on a path through an absolute link stay inside" {
	rm -rf "$ROOT/etc"
	mkdir -p "$ROOT/private/etc"
	ln -s /private/etc "$ROOT/etc"
	cp "$BATS_TEST_DIRNAME/../README.md" "$ROOT/private/etc/passwd"
	echo x >"$SRC/x"
	printf '/etc/passwd 0600 0:0\n' >"$SRC/.overlay-perms"
	local host
	host=$(stat -c %a /etc/passwd)
	img-overlay -q "$SRC" "$ROOT"
	[ "$(stat -c %a "$ROOT/private/etc/passwd")" = 600 ]
	[ "$(stat -c %a /etc/passwd)" = "$host" ]
}

@test "type clash: a directory in SRC, a file in the image; nothing written" {
	echo file >"$ROOT/thing"
	mkdir -p "$SRC/thing" "$SRC/aaa"
	echo x >"$SRC/thing/inside"
	echo y >"$SRC/aaa/other"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: type clash at '/thing': a directory in '$SRC', a file in the image" ]
	[ "$(cat "$ROOT/thing")" = file ]
	[ ! -e "$ROOT/aaa" ]
}

@test "type clash: a file in SRC, a directory in the image; nothing written" {
	mkdir -p "$ROOT/thing/keep"
	echo x >"$SRC/thing"
	echo y >"$SRC/zzz"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: type clash at '/thing': a file in '$SRC', a directory in the image" ]
	[ -d "$ROOT/thing/keep" ]
	[ ! -e "$ROOT/zzz" ]
}

@test "--dry-run -v lists what would change and writes nothing" {
	mkdir -p "$SRC/etc/new"
	echo a >"$SRC/etc/new/a"
	echo changed >"$SRC/etc/passwd"
	printf '/etc/new/a 0600 0:0\n' >"$SRC/.overlay-perms"
	local before
	before=$(find "$ROOT" -printf '%p %i %m %s %T@\n' | sort)
	run --separate-stderr img-overlay --dry-run -v "$SRC" "$ROOT"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'mkdir /etc/new\ncreate /etc/new/a\nreplace /etc/passwd\nperms /etc/new/a')" ] ||
		[ "$output" = "$(printf 'replace /etc/passwd\nmkdir /etc/new\ncreate /etc/new/a\nperms /etc/new/a')" ]
	[ "$stderr" = "img-overlay: $SRC: would be 1 created, 1 replaced, 0 unchanged, 1 perms" ]
	[ "$(find "$ROOT" -printf '%p %i %m %s %T@\n' | sort)" = "$before" ]
}

@test "a FIFO in SRC is refused" {
	mkfifo "$SRC/pipe"
	run --separate-stderr img-overlay "$SRC" "$ROOT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "img-overlay: '$SRC/pipe' is a device, socket or FIFO; overlays hold files, links and directories" ]
}

@test "into the image's FAT boot partition (no owners there) through FUSE or the kernel" {
	cp --sparse=always "$(fixture vendor-mbr.img)" "$T/img"
	img-loop -q --state "$T/s" "$T/img" >/dev/null
	img-mount -q --state "$T/s" --root "$T/mnt" --mount 2:/ --mount 1:/boot/firmware >/dev/null
	mkdir -p "$T/boot/boot/firmware"
	echo 'dtoverlay=disable-bt' >"$T/boot/boot/firmware/extra.txt"
	run --separate-stderr img-overlay "$T/boot" "$T/mnt"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/mnt/boot/firmware/extra.txt")" = "dtoverlay=disable-bt" ]
	img-umount --state "$T/s"
	assert_nothing_left
}
