#!/usr/bin/env bash
# phase1-target: inside the image (Ubuntu 20.04 arm64, as root, under
# qemu-user). Installs the RT kernel that phase1-host unpacked into
# $SCRATCH_DIR/rt-kernel, purges the stock kernel and REMOVE_PACKAGES, puts
# the RT kernel where the boot firmware loads it and checks that it is the
# one that will boot, then applies the real-time tuning shared by every
# recipe (images/shared/rt-tuning.sh): CPU frequency, RT throttling, the
# realtime group, isolated CPUs and overclocking.
#
# Every step can run again on the same image (make phase1-target) with the
# same result; ISOLATED_CPUS, ARM_FREQ and OVER_VOLTAGE set back to empty
# undo what they did.
#
# Environment (mk/image.mk): SCRATCH_DIR, and the recipe's knobs (see the
# Makefile). BOOT_DIR (default /boot/firmware) is for tests.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=target.sh
. "$(dirname "${BASH_SOURCE[0]}")/target.sh"

# ---- packages ----

# The installed packages among the arguments.
installed() {
	local p
	for p in "$@"; do
		if pkg_installed "$p"; then
			echo "$p"
		fi
	done
}

# ---- the RT kernel ----

RT_DEBS=()
RT_PKGS=()
RT_IMAGE_PKG=

kernel_install() {
	local dir=$SCRATCH_DIR/rt-kernel deb pkg ver todo=0
	[ -d "$dir" ] || die "$dir is missing: run phase1-host first"
	for deb in "$dir"/*.deb; do
		[ -e "$deb" ] || die "no .deb in $dir: run phase1-host first"
		pkg=$(dpkg-deb -f "$deb" Package)
		ver=$(dpkg-deb -f "$deb" Version)
		case $pkg in
		*-dbg) continue ;;
		linux-image-*)
			[ -z "$RT_IMAGE_PKG" ] || die "two kernel images in $dir: $RT_IMAGE_PKG and $pkg"
			RT_IMAGE_PKG=$pkg
			;;
		esac
		RT_DEBS+=("$deb")
		RT_PKGS+=("$pkg")
		if [ "$(dpkg-query -W -f='${Version} ${Status}' "$pkg" 2>/dev/null)" != "$ver install ok installed" ]; then
			todo=1
		fi
	done
	[ -n "$RT_IMAGE_PKG" ] || die "no linux-image package in $dir"
	if [ "$todo" -eq 0 ]; then
		say "RT kernel packages already installed: ${RT_PKGS[*]}"
		return
	fi
	say "installing ${RT_PKGS[*]}"
	# apt rather than dpkg -i: it brings in what they depend on.
	apt-get install "${APT_OPTS[@]}" "${RT_DEBS[@]}"
}

# Ubuntu's own raspi real-time kernel, from the image's apt sources: the
# meta package RT_ARCHIVE_PACKAGE and the image package it brings.
archive_has() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# The candidate version of PKG and where it comes from: "VERSION (SUITE/COMPONENT)".
archive_candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '
		$1 == "Candidate:" { c = $2 }
		table && found && NF >= 3 { print c " (" $3 ")"; exit }
		table && ($1 == c || ($1 == "***" && $2 == c)) { found = 1 }
		/Version table:/ { table = 1 }'
}

kernel_from_archive() {
	local meta=${RT_ARCHIVE_PACKAGE:-linux-image-raspi-realtime} p
	archive_has "$meta" || die "no package $meta in the image's apt sources (RT_KERNEL_SOURCE=archive)"
	say "installing $meta (Ubuntu's real-time kernel) from the archive"
	apt-get install "${APT_OPTS[@]}" "$meta"
	RT_PKGS=("$meta")
	while read -r p; do
		RT_PKGS+=("$p")
		case $p in linux-image-[0-9]*) RT_IMAGE_PKG=$p ;; esac
	done < <(dpkg-query -W -f='${Package} ${Status}\n' 'linux-*-realtime' 2>/dev/null |
		awk '$NF == "installed" { print $1 }')
	[ -n "$RT_IMAGE_PKG" ] || die "$meta installed no linux-image-VERSION-...-realtime package"
}

# RT_KERNEL_SOURCE: release (the zip phase1-host unpacked), archive, or
# auto (the archive's when apt can see it, else the release).
kernel_choose() {
	case ${RT_KERNEL_SOURCE:-release} in
	release) kernel_install ;;
	archive) kernel_from_archive ;;
	auto)
		local meta=${RT_ARCHIVE_PACKAGE:-linux-image-raspi-realtime}
		if archive_has "$meta"; then
			say "RT_KERNEL_SOURCE=auto: $meta $(archive_candidate "$meta") from the image's apt sources: Ubuntu's real-time kernel it is"
			kernel_from_archive
		else
			say "RT_KERNEL_SOURCE=auto: no $meta in the image's apt sources: the RT kernel release it is ($(basename "$(dirname "${RT_KERNEL_URL:-?/?}")"))"
			kernel_install
		fi
		;;
	*) die "RT_KERNEL_SOURCE '$RT_KERNEL_SOURCE' is none of release, archive, auto" ;;
	esac
}

# The kernel release, read from the files the image package installed (so
# a release whose name does not match its content still works).
kernel_release() {
	local f rel=
	while IFS= read -r f; do
		case $f in
		/boot/vmlinuz-*)
			[ -z "$rel" ] || die "$RT_IMAGE_PKG installs more than one /boot/vmlinuz-*"
			rel=${f#/boot/vmlinuz-}
			;;
		esac
	done < <(dpkg-query -L "$RT_IMAGE_PKG")
	[ -n "$rel" ] || die "$RT_IMAGE_PKG installs no /boot/vmlinuz-*"
	echo "$rel"
}

# Ubuntu's raspi kernels and their meta packages, not the RT ones: the
# stock kernel's release is "X.Y.Z-ABI-raspi" (5.4.0-1069-raspi).
stock_kernel_packages() {
	local p rt
	while IFS= read -r p; do
		for rt in "${RT_PKGS[@]}"; do
			[ "$p" != "$rt" ] || continue 2
		done
		case $p in
		linux-raspi | linux-image-raspi | linux-headers-raspi | linux-tools-raspi | linux-modules-extra-raspi)
			echo "$p"
			;;
		*)
			if [[ $p =~ ^linux-[a-z-]+-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-raspi$ ]] ||
				[[ $p =~ ^linux-raspi-(headers|tools)-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$ ]]; then
				echo "$p"
			fi
			;;
		esac
	done < <(dpkg-query -W -f='${Package} ${Status}\n' 'linux-*' 2>/dev/null |
		awk '$NF == "installed" { print $1 }')
}

# ---- real-time settings ----

# The default user does not exist yet: cloud-init creates it at first boot
# with useradd, from system_info.default_user (so /etc/adduser.conf's
# EXTRA_GROUPS would not apply). A cloud.cfg.d snippet hands cloud-init the
# image's own default_user with RT_GROUP added to its groups; cloud-init's
# own code then reads the result back as a check.
#
# The login knobs (images/shared/login.mk), when any is set, go into the
# same snippet, in cloud-init's own terms: the default user's name
# (IMAGE_USER), its SSH keys (AUTHORIZED_KEYS_TEXT), its password
# (IMAGE_PASSWORD as a SHA-512 hash, expired at the first login; with
# neither a password nor keys, the user's name, expired too), password SSH
# only with IMAGE_PASSWORD, and the host name. The snippet is then root's
# alone (0600), and Ubuntu's user-data on the boot partition, whose
# password and ssh_pwauth would win over it, makes way for one that says
# what the snippet says. user-data that Raspberry Pi Imager (or a person)
# writes there later still wins.
CLOUD_CFG=/etc/cloud/cloud.cfg
CLOUD_SNIPPET=/etc/cloud/cloud.cfg.d/99-realtime-group.cfg

login_knobs() { [ -n "${IMAGE_USER:-}${AUTHORIZED_KEYS_TEXT:-}${IMAGE_PASSWORD:-}${IMAGE_HOSTNAME:-}" ]; }

default_user_join() {
	if [ ! -f "$CLOUD_CFG" ] && login_knobs; then
		die "IMAGE_USER, AUTHORIZED_KEYS, IMAGE_PASSWORD and IMAGE_HOSTNAME are applied by cloud-init, which this image does not have"
	fi
	if ! getent group "$RT_GROUP" >/dev/null; then
		say "creating the group $RT_GROUP"
		groupadd --system "$RT_GROUP"
	fi
	if getent passwd "$DEFAULT_USER" >/dev/null; then
		say "adding $DEFAULT_USER to $RT_GROUP"
		usermod -aG "$RT_GROUP" "$DEFAULT_USER"
	fi
	if [ ! -f "$CLOUD_CFG" ]; then
		getent passwd "$DEFAULT_USER" >/dev/null ||
			die "$DEFAULT_USER does not exist and there is no cloud-init to create it: cannot make it join $RT_GROUP"
		return
	fi
	rm -f "$CLOUD_SNIPPET"
	python3 - "$RT_GROUP" "$DEFAULT_USER" "$CLOUD_SNIPPET" "${BOOT_DIR:-/boot/firmware}" "$CLOUD_CFG" <<'EOF'
import os
import subprocess
import sys
import yaml
from cloudinit import util

group, user, snippet, boot, cloud_cfg = sys.argv[1:6]
env = os.environ.get
login_user = env("IMAGE_USER", "")
keys = [k.strip() for k in env("AUTHORIZED_KEYS_TEXT", "").splitlines()
        if k.strip() and not k.lstrip().startswith("#")]
password = env("IMAGE_PASSWORD", "")
hostname = env("IMAGE_HOSTNAME", "")
login = bool(login_user or keys or password or hostname)

cfg = util.read_conf_with_confd(cloud_cfg)
du = dict(cfg.get("system_info", {}).get("default_user") or {})
if login_user:
    du["name"] = login_user
    du["gecos"] = login_user
elif du.get("name") != user:
    sys.exit("phase1-target: cloud-init's default user is %r, not DEFAULT_USER %r"
             % (du.get("name"), user))
groups = du.get("groups") or []
if isinstance(groups, str):
    groups = [g.strip() for g in groups.split(",") if g.strip()]
if group not in groups:
    groups = list(groups) + [group]
du["groups"] = groups
top = {"system_info": {"default_user": du}}
said = []
if login:
    first = password or (None if keys else du["name"])
    if keys:
        du["ssh_authorized_keys"] = keys
        said.append("%d SSH key(s)" % len(keys))
    if first:
        # openssl, as Ubuntu's images have it (Python's crypt is gone in 3.13).
        hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=first, text=True,
                                capture_output=True, check=True).stdout.strip()
        du["lock_passwd"] = False
        top["password"] = hashed
        top["chpasswd"] = {"expire": True}
        said.append("password %s, expired at the first login"
                    % ("IMAGE_PASSWORD" if password else "its name"))
    else:
        du["lock_passwd"] = True
        said.append("no password")
    top["ssh_pwauth"] = bool(password)
    said.append("password SSH %s" % ("on" if password else "off"))
    if hostname:
        top["hostname"] = hostname
        top["preserve_hostname"] = False
        said.append("host name %s" % hostname)
fd = os.open(snippet, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if login else 0o644)
os.fchmod(fd, 0o600 if login else 0o644)
with os.fdopen(fd, "w") as f:
    f.write("# The default user joins the %s group (real-time limits)%s.\n"
            "# Written by rt-image-kit from the image's own default_user.\n"
            % (group, ", and the build's login settings" if login else ""))
    # One line per key, however long (an SSH key is one line in its file).
    yaml.safe_dump(top, f, default_flow_style=False, width=1 << 20)

cfg = util.read_conf_with_confd(cloud_cfg)
got = cfg["system_info"]["default_user"]
if got.get("name") != (login_user or user) or group not in got.get("groups", []):
    sys.exit("phase1-target: cloud-init does not read %s as expected: %r" % (snippet, {
        k: v for k, v in got.items() if k != "hashed_passwd"}))
if login and (cfg.get("ssh_pwauth") != bool(password) or bool(cfg.get("password")) != ("password" in top)):
    sys.exit("phase1-target: cloud-init does not read the login settings of %s as written" % snippet)
print("phase1-target: cloud-init will create %s in: %s" % (got["name"], ", ".join(got["groups"])))
if login:
    print("phase1-target: %s: %s" % (got["name"], "; ".join(said)))
    # Ubuntu's user-data (its password for ubuntu, its ssh_pwauth) would
    # win over the snippet: one that says what the snippet says instead.
    ud = os.path.join(boot, "user-data")
    with open(ud + ".new", "w") as f:
        f.write("#cloud-config\n"
                "# rt-image-kit: the user, its login and the host name were set when\n"
                "# this image was built (/etc/cloud/cloud.cfg.d/%s).\n"
                "# Settings written here, by Raspberry Pi Imager or by hand, win over them.\n"
                "ssh_pwauth: %s\n" % (os.path.basename(snippet), "true" if password else "false"))
    os.replace(ud + ".new", ud)
    print("phase1-target: %s makes way for the build's settings" % ud)
EOF
}

# ---- apt's pockets ----

# The release's fields in a one-line source, "deb [OPTIONS] URI SUITE
# COMPONENT...": awk sets u to the URI's field number.
# shellcheck disable=SC2016 # awk's
APT_LINE_AWK='function fields() { u = 2; if ($2 ~ /^\[/) { while (u < NF && $u !~ /\]$/) u++; u++ } }'

# APT_POCKETS (updates security) of UBUNTU_CODENAME in the image's apt
# sources: each one missing is added beside the release itself, in the
# form the file has (deb822 .sources since 24.04: to the Suites of the
# release's stanza; one-line sources.list before: a line after the
# release's, with its URI and components). Files that do not name the
# release are left alone; a second run adds nothing.
apt_pockets_ensure() {
	local codename=${UBUNTU_CODENAME:-} f added=() pocket want have found
	[ -n "$codename" ] || die "UBUNTU_CODENAME is not set"
	[ -n "${APT_POCKETS:-}" ] || return 0
	have=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
		sed 's/#.*//' | tr -s ' \t' '\n' | sort -u)
	for pocket in $APT_POCKETS; do
		want=$codename-$pocket
		grep -qx -- "$want" <<<"$have" && continue
		found=
		for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			if [[ $f == *.sources ]]; then
				# The first stanza whose Suites name the release.
				awk -v rel="$codename" -v add="$want" '
					BEGIN { done = 0 }
					!done && /^Suites:/ { n = split($0, w, /[ \t]+/); for (i = 2; i <= n; i++) if (w[i] == rel) { $0 = $0 " " add; done = 1; break } }
					{ print }
					END { exit !done }' "$f" >"$f.new" || { rm -f "$f.new"; continue; }
			else
				awk -v rel="$codename" -v add="$want" "$APT_LINE_AWK"'
					{ print }
					$1 == "deb" { fields() }
					!done && $1 == "deb" && $(u + 1) == rel { $(u + 1) = add; print; done = 1 }
					END { exit !done }' "$f" >"$f.new" || { rm -f "$f.new"; continue; }
			fi
			chmod --reference="$f" "$f.new"
			mv -f "$f.new" "$f"
			added+=("$want ($f)")
			found=1
			break
		done
		[ -n "$found" ] || die "no apt source names $codename: cannot add $want"
	done
	if [ ${#added[@]} -gt 0 ]; then
		say "apt sources: added ${added[*]}"
	else
		# shellcheck disable=SC2086 # a list
		say "apt sources: $(printf "$codename-%s " $APT_POCKETS)already there"
	fi
}

# APT_COMPONENTS (main universe; linux-raspi-realtime is in universe) in
# the archive's sources: the first that names UBUNTU_CODENAME (as
# apt_pockets_ensure adds to) and those that name its pockets; added to a
# deb822 stanza's Components, to a one-line source's components. Other
# repositories (a PPA for the same release) are left alone.
apt_components_ensure() {
	local codename=${UBUNTU_CODENAME:?} f changed=() seen=0
	[ -n "${APT_COMPONENTS:-}" ] || return 0
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		local before=$seen
		grep -Eq "^(Suites:|deb[[:space:]]).*[[:space:]]$codename([[:space:]]|\$)" "$f" && seen=1
		if [[ $f == *.sources ]]; then
			awk -v rel="$codename" -v want="$APT_COMPONENTS" -v seen="$before" '
				function flush(   i, k, m, n, w, c, hit) {
					hit = 0
					for (i = 1; i <= nl; i++)
						if (L[i] ~ /^Suites:/) {
							n = split(L[i], w, /[ \t]+/)
							for (k = 2; k <= n; k++)
								if ((w[k] == rel && !seen++) || index(w[k], rel "-") == 1) hit = 1
						}
					for (i = 1; hit && i <= nl; i++)
						if (L[i] ~ /^Components:/) {
							m = split(want, c, " ")
							for (k = 1; k <= m; k++)
								if ((" " L[i] " ") !~ (" " c[k] " ")) { L[i] = L[i] " " c[k]; changed = 1 }
						}
					for (i = 1; i <= nl; i++) print L[i]
					nl = 0
				}
				/^[ \t]*$/ { flush(); print; next }
				{ L[++nl] = $0 }
				END { flush(); exit !changed }' "$f" >"$f.new" || { rm -f "$f.new"; continue; }
		else
			awk -v rel="$codename" -v want="$APT_COMPONENTS" -v seen="$before" "$APT_LINE_AWK"'
				$1 == "deb" { fields() }
				$1 == "deb" && (($(u + 1) == rel && !seen++) || index($(u + 1), rel "-") == 1) {
					m = split(want, c, " ")
					for (k = 1; k <= m; k++) {
						hit = 0
						for (i = u + 2; i <= NF; i++) if ($i == c[k]) hit = 1
						if (!hit) { $0 = $0 " " c[k]; changed = 1 }
					}
				}
				{ print }
				END { exit !changed }' "$f" >"$f.new" || { rm -f "$f.new"; continue; }
		fi
		chmod --reference="$f" "$f.new"
		mv -f "$f.new" "$f"
		changed+=("$f")
	done
	if [ ${#changed[@]} -gt 0 ]; then
		say "apt sources: the components $APT_COMPONENTS in ${changed[*]}"
	fi
}

# ---- A/B boot ----

# Ubuntu's A/B boot (25.10 and later) promotes a tried kernel update from
# new/ to current/ when /etc/flash-kernel/piboot-validate exits 0.
# PIBOOT_VALIDATE_RT=yes adds rt-check's kernel check to it, so that an
# update to a kernel that is not PREEMPT_RT is rolled back (its block is
# ours: replaced on every run, removed with no). Off by default: a failing
# check keeps the old assets, which may lack a security fix.
PIBOOT_VALIDATE=/etc/flash-kernel/piboot-validate
PIBOOT_BEGIN="# BEGIN rt-image-kit: PIBOOT_VALIDATE_RT (rt-check's kernel check)"
PIBOOT_END="# END rt-image-kit: PIBOOT_VALIDATE_RT"

piboot_validate_apply() {
	local want=${PIBOOT_VALIDATE_RT:-no} f=$PIBOOT_VALIDATE
	case $want in
	yes | no) ;;
	*) die "PIBOOT_VALIDATE_RT '$want' is neither yes nor no" ;;
	esac
	if [ ! -f "$f" ]; then
		[ "$want" = no ] || die "PIBOOT_VALIDATE_RT=yes, but this image has no $f (Ubuntu's A/B boot, 25.10 and later)"
		return 0
	fi
	awk -v b="$PIBOOT_BEGIN" -v e="$PIBOOT_END" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' \
		"$f" >"$f.rtik-new"
	if [ "$want" = yes ]; then
		printf '%s\n' "$PIBOOT_BEGIN" '/usr/local/sbin/rt-check --duration 0 --only kernel >&2 || exit 1' \
			"$PIBOOT_END" >>"$f.rtik-new"
	fi
	chmod --reference="$f" "$f.rtik-new"
	mv -f "$f.rtik-new" "$f"
	if [ "$want" = yes ]; then
		say "$f: rt-check's kernel check added (PIBOOT_VALIDATE_RT=yes)"
	else
		say "$f: Ubuntu's own checks only (PIBOOT_VALIDATE_RT=no)"
	fi
}

main() {
	export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
	: "${SCRATCH_DIR:?}"
	rt_knobs_check
	[[ ${DEFAULT_USER:-} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "DEFAULT_USER '${DEFAULT_USER:-}' is not a user name"
	policy_rc_d_install

	apt_pockets_ensure
	apt_components_ensure
	say "apt-get update"
	apt-get update

	kernel_choose
	local rel stock remove
	rel=$(kernel_release)
	say "RT kernel release (from $RT_IMAGE_PKG): $rel"

	mapfile -t stock < <(stock_kernel_packages)
	# shellcheck disable=SC2086 # REMOVE_PACKAGES is a list
	mapfile -t remove < <(installed ${REMOVE_PACKAGES:-})
	if [ "${#stock[@]}" -gt 0 ] || [ "${#remove[@]}" -gt 0 ]; then
		say "purging ${stock[*]} ${remove[*]}"
		apt-get purge --autoremove "${APT_OPTS[@]}" "${stock[@]}" "${remove[@]}"
	else
		say "nothing to purge: no stock kernel, none of: ${REMOVE_PACKAGES:-}"
	fi
	[ -z "$(stock_kernel_packages)" ] || die "stock kernel packages left: $(stock_kernel_packages | tr '\n' ' ')"

	kernel_to_firmware "$rel"
	kernel_check_boot "$rel"

	rt_tuning_apply "$DEFAULT_USER"
	piboot_validate_apply
	default_user_join
	say "done"
}

# Sourced (by a test) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
