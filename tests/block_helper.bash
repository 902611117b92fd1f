# shellcheck shell=bash
# For a suite that attaches loop devices or mounts: load this instead of
# test_helper. Each test gets its own $T, and teardown undoes whatever it
# left attached or mounted under $T (block_cleanup), even when it failed.
# A suite that needs more defines its own setup() or teardown() after the
# load.

load test_helper

setup() {
	common_setup
}

teardown() {
	block_cleanup
}
