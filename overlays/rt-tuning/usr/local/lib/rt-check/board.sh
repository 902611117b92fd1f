# shellcheck shell=sh
# The board, from the device tree's model, for rt-check and
# rt-cpu-frequency (sourced; POSIX sh):
#
#   rt_board MODEL   pi4 (Raspberry Pi 4, 400, CM4) or pi5 (Pi 5, 500,
#                    CM5); nothing for another machine

rt_board() {
	case $1 in
	"Raspberry Pi 4"* | "Raspberry Pi Compute Module 4"*) echo pi4 ;;
	"Raspberry Pi 5"* | "Raspberry Pi Compute Module 5"*) echo pi5 ;;
	esac
}
