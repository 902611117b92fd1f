# shellcheck shell=bash
# Sourced by the phase scripts of every recipe: messages, and apt without
# starting services.

PHASE=${PHASE:-$(basename "$0" .sh)}

say() { echo "$PHASE: $*"; }
die() {
	echo "$PHASE: $*" >&2
	exit 1
}

# Package scripts must not start services inside the build container: a
# policy-rc.d that says no, for this run only (target scripts).
POLICY_RC_D=/usr/sbin/policy-rc.d
POLICY_MARK="# rt-image-kit: services stay stopped while the image is built"

policy_rc_d_install() {
	if [ -e "$POLICY_RC_D" ] && ! grep -qF "$POLICY_MARK" "$POLICY_RC_D"; then
		say "$POLICY_RC_D is the image's own: leaving it alone"
		return
	fi
	printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" >"$POLICY_RC_D"
	chmod 0755 "$POLICY_RC_D"
	trap policy_rc_d_remove EXIT
}

policy_rc_d_remove() {
	if [ -e "$POLICY_RC_D" ] && grep -qF "$POLICY_MARK" "$POLICY_RC_D"; then
		rm -f "$POLICY_RC_D"
	fi
}

# Target scripts: with_native_tools CMD... runs CMD with the host's own
# programs (mk/native-tools, bound at /run/rtik-native where the image's
# programs are emulated) bound over the image's of the same name, in this
# container's mount namespace only and for CMD's run only: for programs
# that set a PATH of their own (mkinitramfs does), which the one rt-image-kit
# gives would not reach. The image's files are not touched. Without
# /run/rtik-native (a native build), CMD runs as it is.
NATIVE_DIR=/run/rtik-native/bin
with_native_tools() {
	local p f bound=() status=0
	if [ -d "$NATIVE_DIR" ]; then
		for p in "$NATIVE_DIR"/*; do
			for f in /usr/bin/"${p##*/}" /bin/"${p##*/}"; do
				if [ -f "$f" ] && [ ! -L "$f" ]; then
					mount --bind "$p" "$f" && bound+=("$f")
					break
				fi
			done
		done
	fi
	"$@" || status=$?
	for f in "${bound[@]}"; do
		umount "$f" || status=1
	done
	return "$status"
}

# Host scripts: fetch_source URL FILE [SHA256] downloads URL to FILE, a path
# under CACHE_DIR (img-fetch makes the directories below it and follows no
# symlink there; one download at a time per file), verified by SHA256 if
# given, else by the recipe's lock file SOURCES_LOCK: recorded there the
# first time ("commit sources.lock"), checked from then on. LOCKED=1
# refuses a URL that is neither pinned nor locked.
fetch_source() {
	local url=$1 file=$2 sha=${3:-} args=() sum
	: "${IMG_FETCH:?}" "${SOURCES_LOCK:?}" "${CACHE_DIR:?}"
	if [ -n "$sha" ]; then
		[[ $sha =~ ^[0-9a-fA-F]{64}$ ]] || die "'$sha' (the SHA-256 of $url) is not 64 hex digits"
		args+=(--sha256 "$sha")
	fi
	args+=(--lock "$SOURCES_LOCK")
	case ${LOCKED:-} in '' | 0) ;; *) args+=(--locked) ;; esac
	[ "${file#"$CACHE_DIR"/}" != "$file" ] || die "$file is not under CACHE_DIR ($CACHE_DIR)"
	mkdir -p "$CACHE_DIR"
	say "fetching $url"
	sum=$("$IMG_FETCH" --print-sha256 -C "$CACHE_DIR" -o "${file#"$CACHE_DIR"/}" "${args[@]}" "$url")
	# For the manifest and the SBOM (make dist): what was downloaded, one
	# line per URL.
	if [ -n "${BUILD_DIR:-}" ] && [ -d "$BUILD_DIR" ]; then
		{ awk -v u="$url" '$3 != u' "$BUILD_DIR/downloads" 2>/dev/null || true
			echo "download ${sum%% *} $url"; } >"$BUILD_DIR/downloads.new"
		mv -f "$BUILD_DIR/downloads.new" "$BUILD_DIR/downloads"
	fi
}
