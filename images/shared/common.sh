# shellcheck shell=bash
# Sourced by the phase scripts of every recipe: messages, and apt without
# starting services.

PHASE=$(basename "$0" .sh)

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
