/* SPDX-License-Identifier: MIT */
/*
 * img-binfmt: make this host run the programs of another architecture,
 * through qemu-user-static's binfmt_misc entry registered with the F flag,
 * so that they run in a chroot or a container that holds no emulator (an
 * image being bootstrapped by mmdebstrap, say).
 *
 * A working entry is never removed or replaced: another build may be
 * starting programs through it at this very moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binfmt.h"
#include "cli.h"
#include "common.h"
#include "log.h"

static const char *arg_what;

static void help(void)
{
	printf("Usage: %s [OPTION]... ARCH|FILE\n"
	       "Make this host run programs of ARCH (a Debian architecture: arm64,\n"
	       "armhf, armel, riscv64, ...) or of the architecture of the ELF program\n"
	       "FILE, registering qemu-user-static's binfmt_misc entry with the F flag\n"
	       "when nothing runs them yet.\n\n"
	       "  -q, --quiet       only errors\n"
	       "  -v, --verbose     say more\n"
	       "  -h, --help        show this help\n"
	       "  -V, --version     show the version\n\n"
	       "Exit status: 0 done (also: they ran already), 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) >= 0)
		if ((c = cli_option(c, help)) <= 0)
			return c;
	if (optind + 1 != argc) {
		log_error(optind == argc ? "no architecture given" : "one architecture or file, please");
		return -EINVAL;
	}
	arg_what = argv[optind];
	return 1;
}

static int run(void)
{
	struct elf_arch a;
	char subject[PATH_MAX + 32];
	int r;

	if (strchr(arg_what, '/')) {
		_cleanup_(closep) int fd = open(arg_what, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : elf_arch_read(fd, &a);
		if (r == -ENOEXEC) {
			log_error("'%s' is not an ELF program", arg_what);
			return EXIT_FAILED;
		}
		if (r < 0) {
			log_errno(r, "cannot read '%s'", arg_what);
			return EXIT_FAILED;
		}
		snprintf(subject, sizeof(subject), "'%s' is one of the", arg_what);
	} else {
		if (elf_arch_debian(arg_what, &a) < 0) {
			log_error("unknown architecture '%s' (a Debian architecture such as arm64 or armhf)",
				  arg_what);
			return EXIT_USAGE;
		}
		snprintf(subject, sizeof(subject), "%s has", arg_what);
	}
	return binfmt_provide(&a, -1, subject) < 0 ? EXIT_FAILED : EXIT_DONE;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
