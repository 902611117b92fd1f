#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# images/trixie-rt-pi4 built for real from Debian's archive (once per suite
# run, shared with the boot tests: tests/trixie_helper.bash), then checked
# offline: the boot partition with mtools, the root filesystem with debugfs,
# nothing attached or mounted. Then the pipeline's behaviour on it: a second
# make does nothing, `make phase2` reruns phase 2 only; and the errors of a
# recipe that starts from nothing.

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper
load report_helper

setup_file() {
	trixie_setup_file
}

setup() {
	trixie_setup
	RECIPE=$TOP/images/trixie-rt-pi4
	B=$(trixie_build_dir)
}

teardown() {
	[ -n "${T-}" ] || return 0
	block_cleanup
}

# The stages a make ran, from its ">>> trixie-rt-pi4: STAGE" lines.
stages() {
	sed -n 's/^>>> [^:]*: //p' <<<"$output" | tr '\n' ' ' | sed 's/ $//'
}

kernel_release() {
	boot_cat "$IMG" config.txt | sed -n 's/^kernel=vmlinuz-//p'
}

@test "the boot partition: the RT kernel and its initramfs, named in config.txt, the Pi 4's DTB, root by label" {
	local rel files
	rel=$(kernel_release)
	echo "kernel: $rel" >&2
	[[ $rel == *-rt-arm64 ]]
	boot_cat "$IMG" config.txt | grep -qx "initramfs initrd.img-$rel"
	boot_cat "$IMG" config.txt | grep -qx 'arm_64bit=1'
	files=$(boot_ls "$IMG")
	grep -qx "vmlinuz-$rel" <<<"$files"
	grep -qx "initrd.img-$rel" <<<"$files"
	grep -qx bcm2711-rpi-4-b.dtb <<<"$files"
	grep -qx start4.elf <<<"$files"
	grep -qx fixup4.dat <<<"$files"
	boot_cat "$IMG" cmdline.txt | grep -q ' root=LABEL=RASPIROOT '
	# The same bytes as the root filesystem's /boot.
	[ "$(boot_cat "$IMG" "vmlinuz-$rel" | sha256sum)" = "$(root_cat "$IMG" "/boot/vmlinuz-$rel" | sha256sum)" ]
	[ "$(boot_cat "$IMG" "initrd.img-$rel" | sha256sum)" = "$(root_cat "$IMG" "/boot/initrd.img-$rel" | sha256sum)" ]
	# An initramfs (a cpio archive), made once in the whole build: not by
	# the bootstrap's kernel hooks, once by the last phase.
	[ "$(root_cat "$IMG" "/boot/initrd.img-$rel" | head -c 6)" = 070701 ]
	if [ -z "${RTIK_TRIXIE_IMAGE:-}" ]; then
		[ "$(cat "$B"/logs/*.log | grep -c '^update-initramfs: Generating')" -eq 1 ]
		! grep -q '^update-initramfs: Generating' "$B"/logs/*-bootstrap.log
	fi
}

@test "the partitions: MBR, FAT32 RASPIFIRM bootable, ext4 RASPIROOT filling the rest" {
	run sfdisk --json "$IMG"
	[ "$status" -eq 0 ]
	python3 - "$output" <<'PY'
import json, sys
t = json.loads(sys.argv[1])["partitiontable"]
assert t["label"] == "dos", t
p1, p2 = t["partitions"]
assert p1["type"] == "c" and p1.get("bootable"), p1
assert p2["type"] == "83", p2
PY
	[ "$(blkid -p -O "$(part_offset "$IMG" 1)" -s LABEL -o value "$IMG")" = RASPIFIRM ]
	[ "$(blkid -p -O "$(part_offset "$IMG" 2)" -s LABEL -o value "$IMG")" = RASPIROOT ]
	e2fsck -fn "$IMG?offset=$(part_offset "$IMG" 2)"
	# Written through FUSE (fusefat): the FAT must be consistent too.
	boot_fsck "$IMG"
}

@test "the root filesystem: fstab by label, the knobs file, the tuning files and units enabled; e2scrub off" {
	root_cat "$IMG" /etc/fstab | grep -Eq '^LABEL=RASPIROOT[[:space:]]+/[[:space:]]+ext4'
	root_cat "$IMG" /etc/fstab | grep -Eq '^LABEL=RASPIFIRM[[:space:]]+/boot/firmware[[:space:]]+vfat'
	run root_cat "$IMG" /etc/rt-image.conf
	echo "$output" >&2
	grep -qx RT_IMAGE_NAME=trixie-rt-pi4 <<<"$output"
	grep -qx PINNED_CPU_FREQUENCY=1500000 <<<"$output"
	grep -qx RT_GROUP=realtime <<<"$output"
	grep -qx RT_RTPRIO=98 <<<"$output"
	grep -qx RT_USER=rt <<<"$output"
	root_cat "$IMG" /etc/security/limits.d/99-realtime.conf | grep -Eq '^@realtime[[:space:]]+-[[:space:]]+rtprio[[:space:]]+98'
	root_cat "$IMG" /etc/default/cpu-frequency | grep -qx PINNED_CPU_FREQUENCY=1500000
	root_stat "$IMG" /usr/local/sbin/rt-check | grep -q 'Mode:  0755'
	root_stat "$IMG" /usr/local/sbin/rt-cpu-frequency | grep -q 'Mode:  0755'
	local u
	for u in multi-user.target.wants/cpu-frequency.service sysinit.target.wants/rt-throttling.service \
		multi-user.target.wants/ssh.service multi-user.target.wants/systemd-networkd.service \
		multi-user.target.wants/regenerate-ssh-host-keys.service multi-user.target.wants/rt-grow-root.service; do
		root_stat "$IMG" "/etc/systemd/system/$u" | grep -q 'Type: symlink' || { echo "not enabled: $u" >&2; return 1; }
	done
	# e2scrub (ext4 on LVM, which the image has not) stays off.
	for u in default.target.wants/e2scrub_reap.service timers.target.wants/e2scrub_all.timer; do
		! root_stat "$IMG" "/etc/systemd/system/$u" | grep -q Inode || { echo "enabled: $u" >&2; return 1; }
	done
	root_stat "$IMG" /usr/lib/systemd/system/e2scrub_reap.service | grep -q Inode
	root_cat "$IMG" /etc/hostname | grep -qx rt-pi4
}

@test "the user: rt in sudo and realtime, password expired; no known password stays valid" {
	root_cat "$IMG" /etc/passwd | grep -q '^rt:x:[0-9]*:[0-9]*:.*:/home/rt:/bin/bash$'
	root_cat "$IMG" /etc/group | grep -Eq '^sudo:x:[0-9]+:(.*,)?rt(,.*)?$'
	root_cat "$IMG" /etc/group | grep -Eq '^realtime:x:[0-9]+:(.*,)?rt(,.*)?$'
	# Field 3, the day of the last change, 0: change it at the next login.
	[ "$(root_cat "$IMG" /etc/shadow | awk -F: '$1 == "rt" { print $3 }')" = 0 ]
	# root has no password to log in with.
	[[ $(root_cat "$IMG" /etc/shadow | awk -F: '$1 == "root" { print $2 }') =~ ^[*!] ]]
	# Built on nosuid mounts, sudo is still setuid root in the image.
	root_stat "$IMG" /usr/bin/sudo | grep -Eq 'Mode: +04755'
	root_stat "$IMG" /usr/bin/sudo | grep -Eq 'User: +0 '
}

@test "apt: deb822 sources for trixie, -updates and -security with Debian's keyring; no timers, no unattended upgrades" {
	local src
	src=$(root_cat "$IMG" /etc/apt/sources.list.d/debian.sources)
	echo "$src" >&2
	! root_stat "$IMG" /etc/apt/sources.list | grep -q Inode || false
	grep -qx 'URIs: http://deb.debian.org/debian' <<<"$src"
	grep -qx 'Suites: trixie trixie-updates' <<<"$src"
	grep -qx 'URIs: http://deb.debian.org/debian-security' <<<"$src"
	grep -qx 'Suites: trixie-security' <<<"$src"
	[ "$(grep -c '^Components: main non-free-firmware$' <<<"$src")" -eq 2 ]
	[ "$(grep -c '^Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg$' <<<"$src")" -eq 2 ]
	root_stat "$IMG" /usr/share/keyrings/debian-archive-keyring.gpg | grep -q Inode
	! root_stat "$IMG" /etc/apt/apt.conf.d/20auto-upgrades | grep -q Inode || false
	! root_stat "$IMG" /etc/systemd/system/timers.target.wants/apt-daily.timer | grep -q Inode || false
	! root_stat "$IMG" /etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer | grep -q Inode || false
}

@test "patched: every package that trixie-security carries today is installed at its version or newer" {
	local idx=$BATS_FILE_TMPDIR/security-Packages n=0 name ver have
	curl -fsS --max-time 120 http://deb.debian.org/debian-security/dists/trixie-security/main/binary-arm64/Packages.xz |
		xz -dc >"$idx"
	root_cat "$IMG" /var/lib/dpkg/status >"$BATS_FILE_TMPDIR/status"
	while read -r name ver; do
		have=$(awk -v p="$name" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Version:" { print $2; exit }' "$BATS_FILE_TMPDIR/status")
		[ -n "$have" ] || continue
		n=$((n + 1))
		dpkg --compare-versions "$have" ge "$ver" || { echo "$name: $have installed, trixie-security has $ver" >&2; return 1; }
	done < <(awk '$1 == "Package:" { p = $2 } $1 == "Version:" { print p, $2 }' "$idx")
	echo "$n installed packages are in trixie-security" >&2
	[ "$n" -gt 0 ]
}

@test "first boot and network: cloud-init reads the boot partition, then turns itself off; Wi-Fi tools; mDNS" {
	local cfg u
	cfg=$(root_cat "$IMG" /etc/cloud/cloud.cfg.d/90-rt-image.cfg)
	grep -qx 'datasource_list: \[ NoCloud, None \]' <<<"$cfg"
	grep -qx '    fs_label: RASPIFIRM' <<<"$cfg"
	grep -q 'groups: \[adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video, realtime\]' <<<"$cfg"
	grep -qx 'users: \[\]' <<<"$cfg"
	! grep -q 'package-update-upgrade-install' <<<"$cfg" || false
	! root_stat "$IMG" /etc/cloud/cloud-init.disabled | grep -q Inode || false
	root_stat "$IMG" /etc/systemd/system/multi-user.target.wants/rt-firstboot-done.service | grep -q 'Type: symlink'
	for u in /usr/sbin/wpa_supplicant /usr/sbin/iw /usr/lib/firmware/regulatory.db /usr/sbin/netplan \
		/usr/bin/setupcon; do
		root_stat "$IMG" "$u" | grep -q Inode || { echo "missing: $u" >&2; return 1; }
	done
	root_cat "$IMG" /etc/systemd/resolved.conf.d/rt-image-mdns.conf | grep -qx 'MulticastDNS=yes'
	root_cat "$IMG" /etc/systemd/network/20-wired.network | grep -qx 'MulticastDNS=yes'
	root_cat "$IMG" /etc/systemd/network/10-netplan-wlan0.network.d/rt-image-mdns.conf | grep -qx 'MulticastDNS=yes'
	root_stat "$IMG" /etc/kernel/postinst.d/z60-rt-image-kernel | grep -q 'Mode:  0755'
}

@test "what each device makes itself, and nothing of the build, are not in the image" {
	# No SSH host keys, an empty machine-id.
	root_ls "$IMG" /etc/ssh | grep -q ssh_host_ && return 1
	root_stat "$IMG" /etc/machine-id | grep -q 'Size: 0$'
	# No apt lists, no .deb, no qemu, no policy-rc.d.
	root_names "$IMG" /var/lib/apt/lists | grep -vx -e partial -e lock && return 1
	root_ls "$IMG" /var/cache/apt/archives | grep -q '\.deb' && return 1
	root_ls "$IMG" /usr/bin | grep -q qemu- && return 1
	root_stat "$IMG" /usr/sbin/policy-rc.d | grep -q Inode && return 1
	# resolv.conf as systemd-resolved's package left it.
	root_stat "$IMG" /etc/resolv.conf | grep -q 'Fast link dest: "../run/systemd/resolve/stub-resolv.conf"'
}

# --- booted: the image as built, and as people flash it ----------------------

@test "make boot-test: rt-check passes in QEMU (RT kernel, no throttling, limits, no failed unit, cyclictest); the image is unchanged" {
	local before
	before=$(sha256sum <"$IMG")
	run make -C "$RECIPE" BUILD_DIR="$B" boot-test BOOT_TEST_DURATION=5
	echo "$output" >&2
	[ "$status" -eq 0 ]
	grep -q '^kernel: ok (PREEMPT_RT, .*-rt-arm64)$' <<<"$output"
	grep -q '^rt-throttling: ok (sched_rt_runtime_us = -1)$' <<<"$output"
	grep -q '^rt-limits: ok (rt (group realtime): rtprio 98, memlock unlimited)$' <<<"$output"
	grep -q '^units: ok (no failed unit' <<<"$output"
	grep -q '^latency: ok (max [0-9]* us' <<<"$output"
	grep -q '^cpufreq: skip (' <<<"$output"
	grep -qx "trixie-rt-pi4: boot test passed: rt-check found nothing wrong; its report: $B/latency-qemu/report.html" <<<"$output"
	# rt-check's report, brought back from the guest: an emulator's numbers.
	report_valid "$B/latency-qemu" true
	[ "$(sha256sum <"$IMG")" = "$before" ]
	# The console is kept beside the stage's log.
	grep -q 'PREEMPT_RT' "$B"/logs/*-boot-test.console
}

@test "make boot-test when the image does not finish booting in time: the end of the log, the reason, no stamp; the image is unchanged" {
	local before log=$B/logs/11-boot-test.log
	before=$(sha256sum <"$IMG")
	run --separate-stderr make -C "$RECIPE" BUILD_DIR="$B" boot-test BOOT_TEST_ARGS="--timeout 5"
	echo "$output" >&2
	printf '%s\n' "${stderr_lines[@]}" >&2
	[ "$status" -ne 0 ]
	grep -qx ">>> trixie-rt-pi4: boot-test" <<<"$output"
	[ "${stderr_lines[0]}" = "--- the end of $log:" ]
	[ "${stderr_lines[-3]}" = "image.mk: boot test: the image did not finish booting and rt-check in time; console: $B/logs/11-boot-test.console" ]
	[ "$(tail -n 1 "$log")" = "${stderr_lines[-3]}" ]
	[[ ${stderr_lines[-2]} == "*** trixie-rt-pi4: boot-test failed; log: $log; fix it, then run '"* ]]
	[[ ${stderr_lines[-1]} =~ ^make:\ \*\*\*\ \[.*\]\ Error\ [0-9]+$ ]]
	[ ! -e "$B/.stamp_boot-test" ]
	[ -s "$B/logs/11-boot-test.console" ]
	[ "$(sha256sum <"$IMG")" = "$before" ]
	assert_nothing_left "$B"
}

@test "make dist: shrunk, packed with its block map, sums, Imager entry and manifest; bmaptool and sha256sum -c agree" {
	local d=$BATS_FILE_TMPDIR/dist
	# Not into the build's scratch directory, which dist removes.
	run --separate-stderr make -C "$RECIPE" BUILD_DIR="$B" dist DIST_DIR="$B/dist"
	[ "$status" -ne 0 ]
	grep -qx "image.mk: DIST_DIR ($B/dist) is the build's scratch directory for dist, which is removed at the end; choose another" <<<"$stderr"
	run make -C "$RECIPE" BUILD_DIR="$B" dist DIST_FORMAT=zst DIST_DIR="$d"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ -f "$IMG" ]
	for f in trixie-rt-pi4.img.zst trixie-rt-pi4.img.bmap trixie-rt-pi4.sha256 trixie-rt-pi4.rpi-imager.json \
		trixie-rt-pi4.manifest trixie-rt-pi4.manifest.json trixie-rt-pi4.cdx.json; do
		[ -s "$d/$f" ] || { echo "missing: $f" >&2; return 1; }
	done
	# Flashed with bmaptool, the image is the one the sums name; smaller
	# than the built one (shrunk).
	bmaptool copy "$d/trixie-rt-pi4.img.zst" --bmap "$d/trixie-rt-pi4.img.bmap" "$d/trixie-rt-pi4.img"
	(cd "$d" && sha256sum -c trixie-rt-pi4.sha256)
	[ "$(stat -c %s "$d/trixie-rt-pi4.img")" -lt "$(stat -c %s "$IMG")" ]
	python3 - "$d" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
e = json.load(open(os.path.join(d, "trixie-rt-pi4.rpi-imager.json")))["os_list"][0]
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
img, z = os.path.join(d, "trixie-rt-pi4.img"), os.path.join(d, "trixie-rt-pi4.img.zst")
assert e["extract_size"] == os.path.getsize(img) and e["extract_sha256"] == sha(img), e
assert e["image_download_size"] == os.path.getsize(z) and e["image_download_sha256"] == sha(z), e
m = json.load(open(os.path.join(d, "trixie-rt-pi4.manifest.json")))
names = {p["name"] for p in m["packages"]}
assert "raspi-firmware" in names and "linux-image-rt-arm64" in names, sorted(names)
assert m["kernel"]["release"].endswith("-rt-arm64"), m["kernel"]
assert m["variables"]["IMAGE_SUITE"] == "trixie", m["variables"]
# A secret (IMAGE_SECRETS) is no variable of the manifest's.
assert "IMAGE_PASSWORD" not in m["variables"] and "IMAGE_USER" in m["variables"], m["variables"]
# Each package names the suite it came from, the security archive among them.
suites = {p["name"]: p.get("suite") for p in m["packages"]}
assert all(suites.values()), [n for n, s in suites.items() if not s]
assert set(",".join(suites.values()).split(",")) <= {"trixie", "trixie-updates", "trixie-security"}, set(suites.values())
assert any("trixie-security" in s for s in suites.values()), suites
e = json.load(open(os.path.join(d, "trixie-rt-pi4.rpi-imager.json")))["os_list"][0]
assert e["init_format"] == "cloudinit", e
# The SBOM: the manifest's packages, each with its purl, source and suite,
# most with a license from their copyright file; the archive suites they
# came from; the overlays' files; the recipe's commit.
b = json.load(open(os.path.join(d, "trixie-rt-pi4.cdx.json")))
pkgs = [c for c in b["components"] if c["type"] == "library"]
assert sorted((c["name"], c["version"]) for c in pkgs) == sorted((p["name"], p["version"]) for p in m["packages"])
assert all(c["purl"].startswith("pkg:deb/debian/") and c["purl"].endswith("&distro=trixie") for c in pkgs), pkgs[0]
props = lambda c: {p["name"]: p["value"] for p in c["properties"]}
k = [c for c in pkgs if c["name"] == "linux-image-rt-arm64"][0]
assert props(k)["debian:source"].startswith("linux-signed-arm64"), props(k)
assert sum(1 for c in pkgs if c.get("licenses")) > len(pkgs) // 2, sum(1 for c in pkgs if c.get("licenses"))
archives = {c["bom-ref"] for c in b["components"] if c["type"] == "data"}
assert archives == {"archive:trixie", "archive:trixie-updates", "archive:trixie-security"}, archives
deps = {x["ref"]: x["dependsOn"] for x in b["dependencies"]}
# Each from the archive suites the manifest names for it.
suite_of = {(p["name"], p["version"]): p["suite"] for p in m["packages"]}
for c in pkgs:
    want = ["archive:" + x for x in suite_of[(c["name"], c["version"])].split(",")]
    assert deps[c["bom-ref"]] == want, (c["bom-ref"], deps.get(c["bom-ref"]), want)
files = [c["name"] for c in b["components"] if c["bom-ref"].startswith("file:")]
assert "/usr/local/sbin/rt-check" in files, files
assert len(files) == len(set(files)) and {"file:" + f for f in files} <= set(deps["image"]), files
mp = {p["name"]: p["value"] for p in b["metadata"]["properties"]}
assert "rt-image-kit:build:recipe_commit" in mp and "rt-image-kit:var:IMAGE_SUITE" in mp, mp
print("sbom: %d bytes, %d components (%d packages)" % (os.path.getsize(os.path.join(d, "trixie-rt-pi4.cdx.json")), len(b["components"]), len(pkgs)), file=sys.stderr)
PY
	run node "$TOP/tests/cdx-validate.js" "$d/trixie-rt-pi4.cdx.json"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_nothing_left "$B"
}

# The first boot as people flash it (Imager's settings, the root grown to
# the card, a kernel upgrade): tests/trixie-firstboot.bats.

@test "a second make does nothing; make phase2 reruns phase 2 only, then make redoes only finish" {
	# On a copy of the build: the suites that boot the shared image run
	# beside this one (make check), and phase2 withdraws OUTPUT.
	local b=$T/b
	cp -a --sparse=always --reflink=auto "$B" "$b"
	# Its OUTPUT is its own: finish once more, there.
	run make -C "$RECIPE" BUILD_DIR="$b"
	[ "$status" -eq 0 ]
	[ "$(stages)" = finish ]
	run make -C "$RECIPE" BUILD_DIR="$b"
	[ "$status" -eq 0 ]
	[ -z "$(stages)" ]

	run make -C "$RECIPE" BUILD_DIR="$b" phase2
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(stages)" = "phase2-host phase2-target" ]
	run make -C "$RECIPE" BUILD_DIR="$b"
	[ "$status" -eq 0 ]
	[ "$(stages)" = finish ]
	[ -f "$b/trixie-rt-pi4.img" ] && [ -f "$IMG" ]
	assert_nothing_left "$b"
}

# --- errors of a recipe that starts from nothing --------------------------------

# A build of the recipe under $T with VAR=VALUE overrides, which must fail
# in bootstrap (or FAILS_IN, NN-STAGE): stderr shows the end of the stage's
# log, whose last line is the reason, then one line naming the log, then
# make's own.
bad_build() {
	run --separate-stderr make -C "$RECIPE" BUILD_DIR="$T/b" CACHE_DIR="$T/cache" "$@"
	echo "$output" >&2
	printf '%s\n' "${stderr_lines[@]}" >&2
	[ "$status" -ne 0 ]
	local stage=${FAILS_IN:-02-bootstrap}
	[ "${stderr_lines[0]}" = "--- the end of $T/b/logs/$stage.log:" ]
	[[ ${stderr_lines[-2]} == "*** trixie-rt-pi4: ${stage#*-} failed; log: $T/b/logs/$stage.log; "* ]]
	[ ! -e "$T/b/trixie-rt-pi4.img" ]
	assert_nothing_left "$T"
	REASON=${stderr_lines[-3]}
	[ "$(tail -n 1 "$T/b/logs/$stage.log")" = "$REASON" ]
}

@test "an unknown suite: one line naming it, nothing mounted" {
	bad_build IMAGE_SUITE=nosuchsuite
	[ "$REASON" = "image.mk: the mirror http://deb.debian.org/debian has no suite 'nosuchsuite' (no dists/nosuchsuite/Release)" ]
}

@test "an unreachable mirror: one line naming it, nothing mounted" {
	bad_build IMAGE_MIRROR=http://127.0.0.1:9/debian
	[[ $REASON == "image.mk: cannot reach the mirror http://127.0.0.1:9/debian: "* ]]
}

@test "the security archive unreachable, an extra suite the mirror lacks, a security mirror that is no URL: one line each" {
	bad_build IMAGE_SECURITY_MIRROR=http://127.0.0.1:9/debian-security
	[[ $REASON == "image.mk: cannot reach the mirror http://127.0.0.1:9/debian-security: "* ]]
	bad_build IMAGE_EXTRA_SUITES=trixie-nosuch
	[ "$REASON" = "image.mk: the mirror http://deb.debian.org/debian has no suite 'trixie-nosuch' (no dists/trixie-nosuch/Release)" ]
	bad_build IMAGE_SECURITY_MIRROR=security.debian.org
	[ "$REASON" = "image.mk: IMAGE_SECURITY_MIRROR 'security.debian.org' is not an http://, https:// or file:// URL" ]
}

@test "a package that does not exist: one line naming it, nothing mounted" {
	bad_build IMAGE_PACKAGES="systemd-sysv no-such-package-rtik"
	[ "$REASON" = "image.mk: IMAGE_PACKAGES: no package 'no-such-package-rtik' in trixie (arm64, main non-free-firmware) at http://deb.debian.org/debian" ]
}

@test "a mirror that is not a URL, a file:// mirror without the suite, no suite, no disk size: one line each, nothing mounted" {
	bad_build IMAGE_MIRROR=ftp://127.0.0.1/debian
	[ "$REASON" = "image.mk: IMAGE_MIRROR 'ftp://127.0.0.1/debian' is not an http://, https:// or file:// URL" ]
	bad_build IMAGE_MIRROR="file://$T/empty"
	[ "$REASON" = "image.mk: the mirror file://$T/empty has no suite 'trixie' (no dists/trixie/Release)" ]
	bad_build IMAGE_SUITE=
	[ "$REASON" = "image.mk: IMAGE_SUITE is not set (e.g. trixie)" ]
	FAILS_IN=01-create bad_build IMAGE_SIZE=
	[ "$REASON" = "image.mk: IMAGE_SIZE is not set: the size of the disk that IMAGE_LAYOUT describes" ]
}
