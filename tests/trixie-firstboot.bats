#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2154 # bats: @test bodies run in subshells; run sets stderr_lines
# shellcheck disable=SC2016 # the commands in single quotes run in the booted image
# The trixie image as people flash it (tests/trixie_helper.bash builds it
# once per suite run): a copy on a bigger card, with the files Raspberry Pi
# Imager writes on the boot partition for an image whose entry says
# init_format "cloudinit", booted in QEMU with its writes kept. The first
# boot applies them (user, key, host name, time zone, keyboard, Wi-Fi),
# grows the root, and a kernel upgrade is installed with apt inside it;
# the second boot runs the new kernel and nothing of the first boot again,
# and rt-check there: the image's boot test of img-boot (its report under
# load brought back, a failing unit, the command's status).
# A malformed user-data gives a device that still boots: tested in
# img-boot.bats, whose A/B boot of the image it shares (a boot under
# emulation costs a minute or more).

bats_require_minimum_version 1.5.0
load test_helper
load trixie_helper
load report_helper

setup_file() {
	trixie_setup_file
}

setup() {
	trixie_setup
	mkdir -p "$T/tmp"
	export TMPDIR=$T/tmp
	CARD=$BATS_FILE_TMPDIR/card.img
}

teardown() {
	[ -n "${T-}" ] || return 0
	block_cleanup
}

root_put() { # IMG SRC DEST: a file into the root filesystem, unmounted
	# debugfs writes no file over another: one there goes first.
	printf 'rm "%s"\nwrite "%s" "%s"\n' "$3" "$2" "$3" |
		debugfs -w -f - "$1?offset=$(part_offset "$1" 2)" >/dev/null 2>&1
	[ "$(root_cat "$1" "$3" | sha256sum)" = "$(sha256sum <"$2")" ]
}

# guest_run IMG SCRIPT [IMG-BOOT OPTION...]: SCRIPT (too long for the
# kernel command line) put in IMG's root and run there by img-boot with the
# guest's writes kept; the console in $T/console, its "WORD ..." lines on
# stderr for a failing test's output.
# One emulated CPU: in make check another suite shares the host's two cores,
# and a second vCPU spends them spinning on the first one when the host has
# descheduled it (make check 30.5 min instead of 32.2).
guest_run() {
	local img=$1 script=$2
	shift 2
	root_put "$img" "$script" /root/check.sh
	run img-boot --keep-writes --cpus 1 --log "$T/console" "$@" --run 'sh /root/check.sh' "$img"
	echo "$output" >&2
	grep -a -E "^[A-Z]+ " "$T/console" >&2 || true
}

# c WORD: what the console's "WORD ..." lines say after the word.
c() { sed -n "s/^$1 //p" "$T/console" | tr -d '\r'; }

# The installed RT kernel's package, rebuilt with a higher version and its
# build date in uname -v changed (same length) to 2099-12-31: a stand-in for
# the security update that the archive has not published yet. It keeps the
# modules the image's initramfs names (its hook) and those the image loads
# when booted in QEMU's virt machine, with what they depend on (the image's
# modules.dep): about 60 of 4,300, and the device trees of the Pi's
# (broadcom/) only. The upgrade does all the whole package's would (dpkg,
# depmod, the initramfs, the boot partition's hooks); each file more is only
# time, which the emulated guest spends unpacking it. Prints its path.
# What `lsmod` lists in this image booted by img-boot (6.12.118).
QEMU_MODULES="autofs4 binfmt_misc cfg80211 configfs efi_pstore evdev ext4 fat
	gpio_keys ip_tables net_failover nfnetlink nls_ascii nls_cp437 qemu_fw_cfg
	rfkill vfat virtio_blk virtio_mmio virtio_net virtio_rng vsock_loopback
	aes_ce_blk ghash_ce polyval_ce sha1_ce sha2_ce crct10dif_ce"
kernel_standin() { # IMG
	local img=$1 rel ver deb d=$T/standin
	rel=$(boot_cat "$img" config.txt | sed -n 's/^kernel=vmlinuz-//p')
	ver=$(root_cat "$img" /var/lib/dpkg/status |
		awk -v p="linux-image-$rel" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Version:" { print $2; exit }')
	deb=$TOP/cache/apt-archives/linux-image-${rel}_${ver//:/%3a}_arm64.deb
	[ -f "$deb" ] || { echo "no $deb in the cache" >&2; return 1; }
	root_cat "$img" "/usr/lib/modules/$rel/modules.dep" >"$T/modules.dep"
	root_cat "$img" /etc/initramfs-tools/hooks/rt-image-modules |
		sed -n 's/^manual_add_modules //p' >"$T/modules.keep"
	echo "$QEMU_MODULES" >>"$T/modules.keep"
	dpkg-deb -R "$deb" "$d"
	python3 - "$d" "$rel" "$ver" "$T/modules.dep" "$T/modules.keep" <<'PY' || return 1
import hashlib, os, re, sys
d, rel, ver, dep_file, keep_file = sys.argv[1:]
ctl = open(f"{d}/DEBIAN/control").read()
open(f"{d}/DEBIAN/control", "w").write(re.sub(r"(?m)^Version: .*$", f"Version: {ver}+rtik1", ctl))
path = f"boot/vmlinuz-{rel}"
k = open(f"{d}/{path}", "rb").read()
k2, n = re.subn(rb"(PREEMPT_RT Debian " + re.escape(ver.encode()) + rb" \()\d{4}-\d{2}-\d{2}\)", rb"\g<1>2099-12-31)", k)
assert n >= 1, "no uname -v in the kernel"
open(f"{d}/{path}", "wb").write(k2)
KO = re.compile(r"\.ko(\.[a-z]+)?$")
def module(word):  # "sdhci-iproc", "kernel/.../sdhci-iproc.ko.xz" -> "sdhci_iproc"
    return KO.sub("", os.path.basename(word)).replace("-", "_")
deps, by_module = {}, {}
for line in open(dep_file):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
    by_module[module(mod)] = mod
listed = {module(w) for w in open(keep_file).read().split()}
# Those not in modules.dep are built into the kernel (crc32c_generic).
want = [by_module[m] for m in listed if m in by_module]
assert len(want) > 20, "the modules to keep are not in the image's modules.dep"
keep = set()
while want:
    m = want.pop()
    if m not in keep:
        keep.add(m)
        want.extend(deps.get(m, []))
# The modules not kept, the device trees of other boards than the Pi's
# (broadcom/), and the directories that leaves empty: fewer files for dpkg.
dtbs = f"{d}/usr/lib/linux-image-{rel}"
gone = set()
for top in (f"{d}/lib/modules/{rel}", f"{d}/usr/lib/modules/{rel}", dtbs):
    for root, _, files in os.walk(top, topdown=False):
        for f in files:
            p = os.path.join(root, f)
            under = os.path.relpath(p, top)
            if top == dtbs:
                drop = not under.startswith("broadcom/")
            else:
                drop = KO.search(f) and under not in keep
            if drop:
                os.unlink(p)
                gone.add(os.path.relpath(p, d))
        if root != top and not os.listdir(root):
            os.rmdir(root)
md5 = []
for line in open(f"{d}/DEBIAN/md5sums"):
    file = line.rstrip("\n")[34:]
    if file in gone:
        continue
    if file == path:
        line = hashlib.md5(k2).hexdigest() + "  " + path + "\n"
    md5.append(line)
open(f"{d}/DEBIAN/md5sums", "w").write("".join(md5))
print(f"kernel_standin: {len(keep)} modules kept, {len(gone)} files left out", file=sys.stderr)
PY
	dpkg-deb -Zzstd -z1 -b "$d" "$T/linux-image-standin.deb" >/dev/null
	rm -rf "$d"
	echo "$T/linux-image-standin.deb"
}

@test "Imager's settings on a bigger card: the first boot applies them, grows the root, makes its keys; a kernel upgrade with apt" {
	local d=$T/imager deb
	mkdir -p "$d"
	cp --sparse=always "$IMG" "$CARD"
	truncate -s 3G "$CARD"
	ssh-keygen -q -t ed25519 -N '' -C 'pi@workstation' -f "$T/key"
	imager_files "$d" "$(cat "$T/key.pub")"
	boot_put "$CARD" "$d/user-data" "$d/network-config" "$d/meta-data"
	# Imager appends the datasource and the instance to cmdline.txt.
	printf '%s ds=nocloud;i=rpi-imager-1796601600000' "$(boot_cat "$CARD" cmdline.txt | tr -d '\r\n')" >"$d/cmdline.txt"
	boot_put "$CARD" "$d/cmdline.txt"
	# For the login and the upgrade: the private key, the newer kernel.
	root_put "$CARD" "$T/key" /root/pi.key
	deb=$(kernel_standin "$CARD")
	root_put "$CARD" "$deb" /root/linux-image-standin.deb
	# Too long for the kernel command line: a script in the image.
	cat >"$T/check.sh" <<'SH'
echo "T $(cut -d' ' -f1 /proc/uptime) multi-user"
# The upgrade, as someone logged in at once would run it, while cloud-init's
# last stage is still at work (the emulated guest has two cores).
apt-get install -y /root/linux-image-standin.deb >/run/apt.log 2>&1 &
apt=$!
# rt-firstboot-done runs after cloud-final, logs cloud-init's status, turns
# it off (what cloud-init status --wait would say, without another Python).
for i in $(seq 300); do [ -e /etc/cloud/cloud-init.disabled ] && break; sleep 1; done
echo "T $(cut -d' ' -f1 /proc/uptime) cloud-init done"
journalctl -b -q -o cat -u rt-firstboot-done.service >/run/done.log
sed -n "s/^rt-firstboot-done: cloud-init: /CLOUDINIT /p" /run/done.log
grep -c "cloud-init turned off" /run/done.log | sed "s/^/FIRSTBOOTDONE /"
echo "FAILED $(systemctl list-units --failed --no-legend --plain | cut -d' ' -f1 | tr '\n' ' ')"
echo "CLOUDDISABLED $(test -e /etc/cloud/cloud-init.disabled && echo yes)"
echo "HOSTNAME $(hostname)"
echo "LOGIN $(ssh -n -i /root/pi.key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes pi@localhost id)"
echo "GETENT $(getent passwd pi)"
echo "SHADOW $(getent shadow pi | cut -d: -f2)"
echo "SUDOERS $(grep -rh "^pi " /etc/sudoers.d || echo none)"
sed "s/^/AUTHKEYS /" /home/pi/.ssh/authorized_keys
echo "TIMEZONE $(cat /etc/timezone) $(readlink /etc/localtime)"
sed -n "s/^XKBLAYOUT=/KEYBOARD /p" /etc/default/keyboard
echo "PWAUTH $(sshd -T | grep -i "^passwordauthentication")"
sed "s/^/SSHDCLOUD /" /etc/ssh/sshd_config.d/50-cloud-init.conf
# Password SSH on (what cloud-init writes for ssh_pwauth: true) wins over
# the snippet of an image built with AUTHORIZED_KEYS (setup.sh's).
cp /etc/ssh/sshd_config.d/50-cloud-init.conf /run/50-cloud-init.conf
echo "PasswordAuthentication yes" >/etc/ssh/sshd_config.d/50-cloud-init.conf
printf "PasswordAuthentication no\nKbdInteractiveAuthentication no\n" >/etc/ssh/sshd_config.d/50-rt-image-kit.conf
echo "PWAUTHON $(sshd -T | grep -i "^passwordauthentication")"
cp /run/50-cloud-init.conf /etc/ssh/sshd_config.d/50-cloud-init.conf
rm /etc/ssh/sshd_config.d/50-rt-image-kit.conf
sed "s/^/WPA /" /run/netplan/wpa-wlan0.conf
sed "s/^/WLAN0 /" /run/systemd/network/10-netplan-wlan0.network
echo "WPAUNIT $(systemctl is-enabled netplan-wpa-wlan0.service 2>&1)"
resolvectl mdns | sed "s/^/MDNS /"
echo "ROOTSIZE $(df -B1 --output=size / | tail -n 1)"
ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | sed "s/^/HOSTKEY /"
echo "MACHINEID $(cat /etc/machine-id)"
echo "BOOTPERM $(stat -c %a /boot/firmware/network-config)"
echo "FIRSTBOOTCOND $(systemctl show -P ConditionResult systemd-firstboot.service)"
echo "T $(cut -d' ' -f1 /proc/uptime) checked"
wait "$apt"; echo "APT $?"; tail -n 20 /run/apt.log
echo "T $(cut -d' ' -f1 /proc/uptime) upgraded"
rm -f /root/linux-image-standin.deb
sed "s/^/CONFIG /" /boot/firmware/config.txt
rel=$(sed -n "s/^kernel=vmlinuz-//p" /boot/firmware/config.txt)
echo "NEWEST $(ls /boot/vmlinuz-* | sort -V | tail -n 1)"
echo "PKGVER $(dpkg-query -W -f '${Version}' "linux-image-$rel")"
cmp -s /boot/firmware/bcm2711-rpi-4-b.dtb "/usr/lib/linux-image-$rel/broadcom/bcm2711-rpi-4-b.dtb" && echo "DTB same"
for f in /boot/firmware/vmlinuz-* /boot/firmware/initrd.img-*; do
	cmp -s "$f" "/boot/${f##*/}" && echo "SAME ${f##*/}" || echo "DIFFERENT ${f##*/}"
done
true
SH
	guest_run "$CARD" "$T/check.sh" --timeout 1200
	[ "$status" -eq 0 ]
	# cloud-init ran from the boot partition, once, and is off now.
	c CLOUDINIT | grep -qx 'status: done'
	c CLOUDINIT | grep -q '^detail: DataSourceNoCloud \[seed=cmdline,/dev/vda1\]'
	[ "$(c FIRSTBOOTDONE)" = 1 ]
	[ "$(c FAILED)" = "" ]
	[ "$(c CLOUDDISABLED)" = yes ]
	# The host name; the user, who logs in with the key, in sudo (asked
	# for the password: Imager said sudo: null) and the RT group.
	[ "$(c HOSTNAME)" = rtbot ]
	[[ $(c LOGIN) == "uid="*"(pi) gid="* ]]
	[[ $(c LOGIN) == *"(sudo)"* ]]
	[[ $(c LOGIN) == *"(realtime)"* ]]
	[[ $(c GETENT) == "pi:x:"*":/home/pi:/bin/bash" ]]
	[ "$(c SHADOW)" = "$(openssl passwd -5 -salt rtikrtik 'correct horse')" ]
	[ "$(c SUDOERS)" = none ]
	[ "$(c AUTHKEYS)" = "$(cat "$T/key.pub")" ]
	[ "$(c TIMEZONE)" = "Europe/Berlin /usr/share/zoneinfo/Europe/Berlin" ]
	[ "$(c KEYBOARD)" = '"de"' ]
	[ "$(c PWAUTH)" = "passwordauthentication no" ]
	c SSHDCLOUD | grep -qx 'PasswordAuthentication no'
	[ "$(c PWAUTHON)" = "passwordauthentication yes" ]
	# Wi-Fi: wpa_supplicant's configuration for wlan0 (SSID, PSK, country),
	# DHCP on it, the unit that starts it when the interface appears.
	c WPA | grep -qx 'country=DE'
	# netplan writes the SSID as wpa_supplicant's printf-style P"...".
	c WPA | grep -Eq '^ *ssid=P?"Lab WiFi"$'
	c WPA | grep -q "psk=$(python3 -c 'import hashlib; print(hashlib.pbkdf2_hmac("sha1", b"battery staple", b"Lab WiFi", 4096, 32).hex())')"
	c WLAN0 | grep -qx 'Name=wlan0'
	c WLAN0 | grep -q '^DHCP=ipv4'
	[ "$(c WPAUNIT)" = enabled-runtime ]
	# mDNS on the wired link (the resolver answers rtbot.local).
	c MDNS | grep -Eq '^Link [0-9]+ \(eth0\): yes'
	c MDNS | grep -Eq '^Global: yes'
	# The root grew to the card; first-boot units fired once.
	[ "$(c ROOTSIZE)" -gt $((2400 * 1024 * 1024)) ]
	[[ $(c MACHINEID) =~ ^[0-9a-f]{32}$ ]]
	[ "$(c FIRSTBOOTCOND)" = no ]
	# The settings' files (a password hash, the Wi-Fi key) are root's.
	[ "$(c BOOTPERM)" = 700 ]
	c HOSTKEY >"$BATS_FILE_TMPDIR/hostkey"
	c MACHINEID >"$BATS_FILE_TMPDIR/machine-id"
	# The upgrade: installed, and the boot partition names and holds it.
	[ "$(c APT)" = 0 ]
	c CONFIG >"$BATS_FILE_TMPDIR/config.txt"
	[[ $(c PKGVER) == *+rtik1 ]]
	[ "$(c NEWEST)" = "/boot/$(sed -n 's/^kernel=//p' "$BATS_FILE_TMPDIR/config.txt")" ]
	grep -qx "initramfs initrd.img-$(sed -n 's/^kernel=vmlinuz-//p' "$BATS_FILE_TMPDIR/config.txt")" "$BATS_FILE_TMPDIR/config.txt"
	[ "$(c DTB)" = same ]
	! c DIFFERENT | grep -q . || false
	c SAME | grep -q '^vmlinuz-'
}

@test "the second boot: the upgraded kernel; rt-check passes, its report under load comes back, a failing unit and --max-latency 1 fail, its status comes back; cloud-init and the first-boot units do not run again" {
	[ -f "$BATS_FILE_TMPDIR/hostkey" ] || skip "needs the first boot's test before it"
	cat >"$T/check2.sh" <<'SH'
echo "UNAME $(uname -r) $(uname -v)"
rt-check --duration 2 >/run/rt.txt; echo "RTCHECK $?"; sed "s/^/RT /" /run/rt.txt
echo "CLOUDDISABLED $(test -e /etc/cloud/cloud-init.disabled && echo yes)"
echo "CLOUDRAN $(journalctl -b -q -u "cloud-init*" -u cloud-config.service -u cloud-final.service | wc -l)"
echo "FIRSTBOOTDONE $(systemctl show -P ConditionResult rt-firstboot-done.service)"
echo "HOSTNAME $(hostname)"
ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | sed "s/^/HOSTKEY /"
echo "MACHINEID $(cat /etc/machine-id)"
echo "LOGIN $(ssh -n -i /root/pi.key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes pi@localhost id -un)"
# The latency report under load, for --copy-out; then a failing unit and a
# bound no machine meets: rt-check fails, and its status is the command's.
rt-check --only latency --duration 3 --load --report /run/rt-report >/dev/null 2>&1
systemd-run --unit=rtik-broken false; sleep 2
echo "RTJSON $(rt-check --duration 2 --max-latency 1 --json)"
rt-check --duration 1 >/run/rtfail.txt; s=$?; sed "s/^/RTFAIL /" /run/rtfail.txt
exit $s
SH
	guest_run "$CARD" "$T/check2.sh" --timeout 900 --copy-out "/run/rt-report:$T/report"
	# rt-check's status: it failed.
	[ "$status" -eq 1 ]
	[[ $output == *"the command exited with status 1 after "*" s, userspace after "*" s, the command started after "*" s"$'\n'* ]]
	[[ $(c UNAME) == *"-rt-arm64 #1 SMP PREEMPT_RT Debian "*" (2099-12-31)" ]]
	# Emulated (TCG): img-boot turned page-table isolation off.
	grep -aq 'kernel page table isolation forced OFF by kpti command line option' "$T/console" ||
		{ [ "$(uname -m)" = aarch64 ] && [ -w /dev/kvm ]; }
	[ "$(c RTCHECK)" = 0 ]
	c RT | grep -q '^kernel: ok (PREEMPT_RT'
	c RT | grep -q '^rt-throttling: ok'
	c RT | grep -q '^cpufreq: skip ('
	c RT | grep -q '^rt-limits: ok (rt (group realtime): rtprio 98, memlock unlimited)'
	c RT | grep -q '^units: ok'
	c RT | grep -q '^latency: ok (max '
	[ "$(c CLOUDDISABLED)" = yes ]
	[ "$(c CLOUDRAN)" = 0 ]
	[ "$(c FIRSTBOOTDONE)" = no ]
	[ "$(c HOSTNAME)" = rtbot ]
	[ "$(c HOSTKEY)" = "$(cat "$BATS_FILE_TMPDIR/hostkey")" ]
	[ "$(c MACHINEID)" = "$(cat "$BATS_FILE_TMPDIR/machine-id")" ]
	[ "$(c LOGIN)" = pi ]
	c RTFAIL | grep -q '^units: FAIL (failed: rtik-broken.service)'
	c RTFAIL | grep -q '^latency: ok (max '
	# The serial getty's prompt may share its line.
	sed -n 's/.*RTJSON //p' "$T/console" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = {x["name"]: x for x in d["checks"]}
assert d["ok"] is False
assert c["kernel"]["result"] == "ok", c["kernel"]
assert c["units"]["result"] == "fail" and "rtik-broken.service" in c["units"]["detail"]
assert c["latency"]["result"] == "fail", c["latency"]
assert len(d["latency"]["cpus"]) == 1 and d["latency"]["max_latency_us"] == 1
'
	# The latency report under load, brought back (--copy-out): an
	# emulator's numbers, as its title says; stress-ng named in it.
	[[ $output == *"img-boot: $CARD: copied the guest's '/run/rt-report' into '$T/report'"* ]]
	report_valid "$T/report" true
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["load"]["command"].startswith("stress-ng --cpu 0"), j["load"]; assert len(j["cpus"]) == 1' "$T/report/latency.json"
}
