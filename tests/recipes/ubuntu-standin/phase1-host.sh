#!/usr/bin/env bash
# phase1-host: the stub packages of the stand-in vendor image (stubs.sh):
# Ubuntu 20.04's raspi kernel, the packages the Ubuntu recipes purge and
# sudo-rs (26.04's sudo; harmless in the others' variants),
# into $SCRATCH_DIR/stubs for phase1-target.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=stubs.sh
. "$(dirname "$0")/stubs.sh"

: "${SCRATCH_DIR:?}"
rm -rf "$SCRATCH_DIR/stubs"
stock_kernel_stubs "$SCRATCH_DIR/stubs"
vendor_stubs "$SCRATCH_DIR/stubs"
sudo_rs_stub "$SCRATCH_DIR/stubs"
echo "phase1-host: $(cd "$SCRATCH_DIR/stubs" && echo *.deb)"
