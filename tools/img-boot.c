/* SPDX-License-Identifier: MIT */
/*
 * img-boot: boot a Raspberry Pi image in QEMU without changing it, and run a
 * command in the booted system.
 *
 * The kernel, the initrd and the kernel command line come from the image's
 * own boot partition (config.txt's kernel= and initramfs lines, cmdline.txt,
 * each under config.txt's os_prefix as the firmware reads them: Ubuntu's A/B
 * boot keeps them in current/, and in new/ for the tryboot mode, --tryboot),
 * read with mtools: no loop device, no mount, no root. The disk is the image
 * itself in QEMU's snapshot mode: it is opened read-only and the writes of
 * the booted system go to a temporary overlay, in a directory of ours that is
 * removed at the end, whatever happened. --keep-writes gives the guest the
 * image itself (an upgrade inside the guest, then a boot of the result).
 *
 * A command reaches the guest as base64 on the kernel command line, where
 * systemd's systemd.run= starts a small sh wrapper (itself base64, so that
 * neither the kernel, systemd nor the shell see a quote of the user's). The
 * wrapper brings up multi-user.target (systemd.run= makes
 * kernel-command-line.target the default instead), runs the command and
 * prints its status after a marker with a random token; then systemd powers
 * off. QEMU's own status says nothing about the command: the marker does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <dirent.h>

#include "cli.h"
#include "command.h"
#include "common.h"
#include "fat.h"
#include "log.h"
#include "parttable.h"
#include "readfile.h"
#include "rpiconfig.h"
#include "size.h"
#include "vm.h"

/* As in timeout(1) and env(1). */
enum {
	EXIT_TIMEOUT = 124,  /* --timeout ran out */
	EXIT_NOBOOT = 125,   /* img-boot failed, or the system did not boot */
};

#define QEMU "qemu-system-aarch64"
/* COMMAND_LINE_SIZE on arm64 */
#define CMDLINE_MAX 2048
/* --copy-out's disk: sparse, as large as what a guest may copy out. */
#define COPY_DISK_SIZE (1LL << 30)
/* Without --run: the boot itself is the test. */
#define DEFAULT_CHECK                                                                       \
	"failed=$(systemctl list-units --failed --no-legend --plain | cut -d' ' -f1); "      \
	"[ -z \"$failed\" ] || { echo \"failed units:\" $failed; exit 1; }"

enum machine { MACHINE_VIRT, MACHINE_RASPI4B };

static enum machine arg_machine = MACHINE_VIRT;
static unsigned arg_cpus;
static uint64_t arg_memory = 2ULL << 30;
static double arg_timeout = -1; /* -1: the default for the mode */
static const char *arg_run;
static bool arg_interactive;
static const char *arg_log;
static const char *arg_append;
static const char *arg_image;
static bool arg_keep_writes;
static bool arg_tryboot;
static const char *arg_copy_out; /* GUEST_PATH:HOST_DIR */
static char copy_guest[PATH_MAX], copy_host[PATH_MAX];
static bool use_kvm; /* virt on an arm64 host with KVM: decided once, by parse_argv */

/* What the boot partition says, and where its files were copied. */
struct boot {
	int nr; /* the boot partition's number */
	char kernel[512], initrd[512], dtb[512], cmdline_name[512]; /* paths on the partition */
	char cmdline[CMDLINE_MAX];
	char tmpdir[PATH_MAX];
	char kernel_path[PATH_MAX + 16], initrd_path[PATH_MAX + 16], dtb_path[PATH_MAX + 16];
	char copy_path[PATH_MAX + 16]; /* --copy-out's disk */
};

/* What the console showed. */
struct watch {
	char marker[64];      /* "img-boot-TOKEN " */
	double userspace;     /* -1 until seen */
	double booted, started; /* the wrapper's markers; -1 until seen */
	int status;           /* the command's, -1 until seen */
	char failure[256];    /* a line that means the boot failed */
	char copy[16];        /* --copy-out: "ok", "missing", "failed"; "" until seen */
};

/* ---- the boot partition ---- */

static void tmpdir_remove(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir[0])
		return;
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_errno(errno, "cannot remove '%s'", dir);
}

static void boot_cleanup(struct boot *b)
{
	tmpdir_remove(b->tmpdir);
}

/* Reads a small file copied out of the partition; a longer one is cut to
 * the size of buf. */
static int file_read(const char *path, char *buf, size_t size)
{
	ssize_t n = file_read_text(AT_FDCWD, path, buf, size);

	return n < 0 && n != -EFBIG ? (int)n : 0;
}

static int boot_copy(const struct fat *f, const struct boot *b, const char *what, const char *name,
		     char *dest, size_t size)
{
	int r;

	snprintf(dest, size, "%s/%s", b->tmpdir, what);
	r = fat_copy(f, name, dest);
	if (r == -ENOENT)
		log_error("cannot boot '%s': its boot partition (%d) has no %s '%s'", arg_image, b->nr,
			  what, name);
	else if (r < 0)
		log_errno(r, "cannot read '%s' from the boot partition of '%s'", name, arg_image);
	return r;
}

/* Finds the boot partition (the first FAT one) and copies out what QEMU
 * needs. */
static int boot_read(int fd, struct boot *b)
{
	_cleanup_(fat_closep) struct fat f = FAT_INIT;
	struct part parts[PARTTABLE_MAX];
	const struct part *boot = NULL;
	struct rpi_config cfg;
	char text[8192], path[PATH_MAX + 16];
	const char *tmp = getenv("TMPDIR");
	int n, r;

	n = parttable_read(arg_image, parts);
	if (n == -ENOMEDIUM || n == 0) {
		log_error("cannot boot '%s': it has no partition table", arg_image);
		return -ENOMEDIUM;
	}
	if (n < 0)
		return log_errno(n, "cannot read the partition table of '%s'", arg_image);
	for (int i = 0; i < n && !boot; i++) {
		struct part_fs fs;
		if (part_probe(fd, &parts[i], &fs) == 0 && strcmp(fs.type, "vfat") == 0)
			boot = &parts[i];
	}
	if (!boot) {
		log_error("cannot boot '%s': it has no boot partition (no FAT partition)", arg_image);
		return -ENOENT;
	}
	b->nr = boot->nr;
	r = fat_open(&f, arg_image, boot->start);
	if (r == -ENOENT)
		return log_errno(r, "cannot read the boot partition of '%s': mdir (mtools)", arg_image);
	if (r < 0)
		return log_errno(r, "cannot read the boot partition (%d) of '%s'", b->nr, arg_image);

	snprintf(b->tmpdir, sizeof(b->tmpdir), "%s/img-boot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(b->tmpdir)) {
		r = log_errno(errno, "cannot create a directory in '%s'", tmp && *tmp ? tmp : "/tmp");
		b->tmpdir[0] = 0;
		return r;
	}

	r = boot_copy(&f, b, "config.txt", "config.txt", path, sizeof(path));
	if (r < 0 || (r = file_read(path, text, sizeof(text))) < 0)
		return r;
	rpi_config_parse(text, arg_tryboot, &cfg);
	/* os_prefix (Ubuntu's A/B boot: current/, new/ in tryboot mode) comes
	 * before every name the firmware loads. */
	snprintf(b->kernel, sizeof(b->kernel), "%s%s", cfg.os_prefix, cfg.kernel);
	if (cfg.initrd[0])
		snprintf(b->initrd, sizeof(b->initrd), "%s%s", cfg.os_prefix, cfg.initrd);
	snprintf(b->cmdline_name, sizeof(b->cmdline_name), "%s%s", cfg.os_prefix, cfg.cmdline);
	r = boot_copy(&f, b, "cmdline.txt", b->cmdline_name, path, sizeof(path));
	if (r < 0 || (r = file_read(path, text, sizeof(text))) < 0)
		return r;
	text[strcspn(text, "\r\n")] = 0;
	snprintf(b->cmdline, sizeof(b->cmdline), "%.*s", (int)sizeof(b->cmdline) - 1, text);
	log_debug("boot partition %d%s: kernel %s, initramfs %s, %s: %s", b->nr,
		  arg_tryboot ? " (tryboot)" : "", b->kernel, b->initrd[0] ? b->initrd : "none",
		  b->cmdline_name, b->cmdline);

	r = boot_copy(&f, b, "kernel", b->kernel, b->kernel_path, sizeof(b->kernel_path));
	if (r == 0 && b->initrd[0])
		r = boot_copy(&f, b, "initramfs", b->initrd, b->initrd_path, sizeof(b->initrd_path));
	if (r == 0 && arg_machine == MACHINE_RASPI4B) {
		snprintf(b->dtb, sizeof(b->dtb), "%sbcm2711-rpi-4-b.dtb", cfg.os_prefix);
		r = boot_copy(&f, b, "device tree", b->dtb, b->dtb_path, sizeof(b->dtb_path));
	}
	return r;
}

/* ---- the kernel command line ---- */

static void base64_encode(const char *in, size_t len, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)in;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*out++ = tab[s[i] >> 2];
		*out++ = tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*out++ = tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*out++ = tab[s[i + 2] & 63];
	}
	if (i < len) {
		*out++ = tab[s[i] >> 2];
		*out++ = tab[((s[i] & 3) << 4) | (i + 1 < len ? s[i + 1] >> 4 : 0)];
		*out++ = i + 1 < len ? tab[(s[i + 1] & 15) << 2] : '=';
		*out++ = '=';
	}
	*out = 0;
}

/* Appends the word prefix+word; -E2BIG past the kernel's limit. */
static int cmdline_add(char *buf, const char *prefix, const char *word)
{
	size_t len = strlen(buf);
	int n = snprintf(buf + len, CMDLINE_MAX - len, "%s%s%s", len ? " " : "", prefix, word);

	return n < 0 || (size_t)n >= CMDLINE_MAX - len ? -E2BIG : 0;
}

/* KVM where the host is arm64 and may use it; else TCG as a Cortex-A72. */
static bool kvm_usable(void)
{
	struct utsname u;

	return uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0 && access("/dev/kvm", R_OK | W_OK) == 0;
}

/* Whether the command line LINE has a word that starts with PREFIX. */
static bool has_param(const char *line, const char *prefix)
{
	for (const char *p = line; *p; p += strcspn(p, " \t"), p += strspn(p, " \t"))
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static bool word_dropped(const char *w)
{
	static const char *const prefixes[] = { "console=", "panic=", "systemd.run", "img-boot." };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(w, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* The image's cmdline.txt without its consoles, with ours, the wrapper and
 * --append. */
static int cmdline_build(const struct boot *b, const struct watch *w, char *out)
{
	char words[CMDLINE_MAX], wrapper[1536], enc[2100], run[2400], *save = NULL;
	char *cmd_enc;
	int r = 0;

	out[0] = 0;
	snprintf(words, sizeof(words), "%s", b->cmdline);
	for (char *t = strtok_r(words, " \t", &save); t && r == 0; t = strtok_r(NULL, " \t", &save)) {
		if (word_dropped(t))
			continue;
		/* The card is the virtio disk on virt. */
		if (arg_machine == MACHINE_VIRT && strncmp(t, "root=/dev/mmcblk0p", 18) == 0) {
			r = cmdline_add(out, "root=/dev/vda", t + 18);
			continue;
		}
		r = cmdline_add(out, "", t);
	}
	if (r == 0)
		r = cmdline_add(out, "", arg_machine == MACHINE_VIRT ? "console=ttyAMA0" : "console=ttyS1,115200");
	/* A panic ends QEMU at once (with -no-reboot). */
	if (r == 0)
		r = cmdline_add(out, "", "panic=-1");
	/* Under TCG, no page-table isolation, unless the image or --append
	 * says: with KASLR an arm64 kernel isolates its page tables on a core
	 * without E0PD (the Cortex-A72), and each switch of tables flushes
	 * QEMU's software TLB, at every system call, interrupt and task switch.
	 * TCG does not speculate: there is no Meltdown to isolate from. */
	if (r == 0 && !use_kvm && !has_param(b->cmdline, "kpti=") &&
	    !(arg_append && has_param(arg_append, "kpti=")))
		r = cmdline_add(out, "", "kpti=0");
	if (r == 0 && !arg_interactive) {
		const char *cmd = arg_run ? arg_run : DEFAULT_CHECK;
		/* --copy-out: the guest's file or directory, as a tar archive,
		 * onto the disk whose serial says so. */
		const char *copy = !arg_copy_out ? "" :
			"p=$(tr ' ' '\\n' </proc/cmdline | sed -n 's/^img-boot\\.copy=//p' | base64 -d)\n"
			"for b in /sys/block/vd*; do [ \"$(cat $b/serial)\" != rtik-copy-out ] || d=/dev/${b##*/}; done\n"
			"if [ ! -e \"$p\" ]; then echo \"${m}copy missing\"\n"
			"elif if [ -d \"$p\" ]; then tar -C \"$p\" -cf \"$d\" .; else tar -C \"${p%/*}/\" -cf \"$d\" \"${p##*/}\"; fi\n"
			"then echo \"${m}copy ok\"; else echo \"${m}copy failed\"; fi\n";
		int n = snprintf(wrapper, sizeof(wrapper),
				 "exec </dev/null >/dev/console 2>&1\n"
				 "m='%s'\n"
				 "echo \"${m}booted\"\n"
				 "systemctl start multi-user.target || echo 'img-boot: multi-user.target did not start completely'\n"
				 "c=$(tr ' ' '\\n' </proc/cmdline | sed -n 's/^img-boot\\.run=//p' | base64 -d)\n"
				 "echo \"${m}start\"\n"
				 "/bin/sh -c \"$c\"\n"
				 "s=$?\n"
				 "%s"
				 "echo \"${m}exit $s\"\n",
				 w->marker, copy);
		if (n < 0 || (size_t)n >= sizeof(wrapper))
			return -E2BIG;
		base64_encode(wrapper, (size_t)n, enc);
		snprintf(run, sizeof(run),
			 "systemd.run=\"/bin/sh -c 'echo %s | base64 -d >/run/img-boot.sh; exec /bin/sh /run/img-boot.sh'\"",
			 enc);
		r = cmdline_add(out, "", run);
		if (r == 0)
			r = cmdline_add(out, "", "systemd.run_success_action=poweroff systemd.run_failure_action=poweroff");
		/* The console is the command's: no login prompt in its lines. */
		if (r == 0)
			r = cmdline_add(out, "", arg_machine == MACHINE_VIRT ? "systemd.mask=serial-getty@ttyAMA0.service"
									      : "systemd.mask=serial-getty@ttyS1.service");
		if (r == 0 && strlen(cmd) > CMDLINE_MAX)
			r = -E2BIG;
		if (r == 0) {
			cmd_enc = malloc(strlen(cmd) / 3 * 4 + 8);
			if (!cmd_enc)
				return -ENOMEM;
			base64_encode(cmd, strlen(cmd), cmd_enc);
			r = cmdline_add(out, "img-boot.run=", cmd_enc);
			free(cmd_enc);
		}
		if (r == 0 && arg_copy_out) {
			char copy_enc[PATH_MAX / 3 * 4 + 8];
			base64_encode(copy_guest, strlen(copy_guest), copy_enc);
			r = cmdline_add(out, "img-boot.copy=", copy_enc);
		}
	}
	if (r == 0 && arg_append)
		r = cmdline_add(out, "", arg_append);
	return r;
}

/* ---- the machine ---- */

static bool qemu_has_machine(const char *name, char version[static 64])
{
	char *help[] = { QEMU, "-machine", "help", NULL }, *ver[] = { QEMU, "--version", NULL };
	_cleanup_(freep) char *out = NULL, *vout = NULL;
	bool found = false;

	if (command_capture(help, COMMAND_SILENT, &out, 1 << 20) == 0)
		for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save))
			found = strncmp(l, name, strlen(name)) == 0 && l[strlen(name)] == ' ';
	version[0] = 0;
	if (command_capture(ver, COMMAND_SILENT, &vout, 4096) == 0 && strncmp(vout, "QEMU emulator version ", 22) == 0)
		snprintf(version, 64, "%.*s", (int)strcspn(vout + 22, " \n"), vout + 22);
	return found;
}

/* The image as QEMU's disk: in snapshot mode unless --keep-writes. The
 * guest's flushes are not passed on (cache=unsafe): in snapshot mode its
 * writes are thrown away anyway, and with --keep-writes the image is synced
 * once, when QEMU has ended (dpkg in the guest flushes after every file). */
static const char *drive_opts(const char *iface)
{
	static char opts[64];

	snprintf(opts, sizeof(opts), "format=raw,if=%s,cache=unsafe%s", iface,
		 arg_keep_writes ? "" : ",snapshot=on");
	return opts;
}

static int qemu_argv(const struct boot *b, const char *cmdline, char *argv[static 48], char bufs[4][2 * PATH_MAX + 64])
{
	int n = 0;

	argv[n++] = QEMU;
	if (arg_machine == MACHINE_VIRT) {
		argv[n++] = "-M", argv[n++] = "virt";
		argv[n++] = "-accel", argv[n++] = use_kvm ? "kvm" : "tcg";
		argv[n++] = "-cpu", argv[n++] = use_kvm ? "host" : "cortex-a72";
		snprintf(bufs[0], sizeof(bufs[0]), "%u", arg_cpus);
		argv[n++] = "-smp", argv[n++] = bufs[0];
		snprintf(bufs[1], sizeof(bufs[1]), "%" PRIu64 "M", arg_memory >> 20);
		argv[n++] = "-m", argv[n++] = bufs[1];
		argv[n++] = "-nodefaults";
		if (vm_drive_arg(bufs[2], sizeof(bufs[2]), arg_image, drive_opts("virtio")) < 0)
			return -ENAMETOOLONG;
		argv[n++] = "-drive", argv[n++] = bufs[2];
		if (arg_copy_out) {
			if (vm_drive_arg(bufs[3], sizeof(bufs[3]), b->copy_path,
					 "format=raw,if=none,id=rtikcopy,cache=unsafe") < 0)
				return -ENAMETOOLONG;
			argv[n++] = "-drive", argv[n++] = bufs[3];
			argv[n++] = "-device", argv[n++] = "virtio-blk-pci,drive=rtikcopy,serial=rtik-copy-out";
		}
		argv[n++] = "-netdev", argv[n++] = "user,id=net0";
		argv[n++] = "-device", argv[n++] = "virtio-net-pci,netdev=net0,romfile=";
		argv[n++] = "-device", argv[n++] = "virtio-rng-pci";
		argv[n++] = "-serial", argv[n++] = arg_interactive ? "mon:stdio" : "stdio";
	} else {
		/* The board has 4 cores and 2 GiB, whatever -smp and -m say. */
		argv[n++] = "-M", argv[n++] = "raspi4b";
		argv[n++] = "-dtb", argv[n++] = (char *)b->dtb_path;
		if (vm_drive_arg(bufs[2], sizeof(bufs[2]), arg_image, drive_opts("sd")) < 0)
			return -ENAMETOOLONG;
		argv[n++] = "-drive", argv[n++] = bufs[2];
		/* The first UART is the PL011, the console the mini-UART. */
		argv[n++] = "-serial", argv[n++] = "null";
		argv[n++] = "-serial", argv[n++] = arg_interactive ? "mon:stdio" : "stdio";
	}
	argv[n++] = "-display", argv[n++] = "none";
	if (!arg_interactive)
		argv[n++] = "-monitor", argv[n++] = "none";
	argv[n++] = "-no-reboot";
	argv[n++] = "-kernel", argv[n++] = (char *)b->kernel_path;
	if (b->initrd[0])
		argv[n++] = "-initrd", argv[n++] = (char *)b->initrd_path;
	argv[n++] = "-append", argv[n++] = (char *)cmdline;
	argv[n] = NULL;
	return n;
}

/* The lines of a boot that will not go on. */
static const char *const boot_failures[] = {
	"Kernel panic - not syncing",
	"Gave up waiting for root",
	"Dropping to a shell!",
	"You are in emergency mode",
	"Failed to start default target",
};

static int console_watch(const char *line, double t, void *userdata)
{
	struct watch *w = userdata;
	const char *m = strstr(line, w->marker);

	if (m) {
		m += strlen(w->marker);
		if (strcmp(m, "booted") == 0 && w->booted < 0)
			w->booted = t;
		else if (strcmp(m, "start") == 0 && w->started < 0)
			w->started = t;
		else if (strncmp(m, "exit ", 5) == 0 && w->status < 0)
			w->status = atoi(m + 5) & 255;
		else if (strncmp(m, "copy ", 5) == 0 && !w->copy[0])
			snprintf(w->copy, sizeof(w->copy), "%s", m + 5);
		return 0;
	}
	if (w->userspace < 0 && (strstr(line, "as init process") || strstr(line, "Welcome to ")))
		w->userspace = t;
	for (size_t i = 0; i < ARRAY_SIZE(boot_failures); i++)
		if (!w->failure[0] && strstr(line, boot_failures[i])) {
			const char *s = strstr(line, boot_failures[i]);
			snprintf(w->failure, sizeof(w->failure), "%s", s);
			/* A panic ends QEMU by itself; the others wait for ever. */
			return i == 0 ? 0 : VM_STOP;
		}
	return 0;
}

static void times(const struct watch *w, char *buf, size_t size)
{
	int n = 0;

	buf[0] = 0;
	if (w->userspace >= 0)
		n += snprintf(buf + n, size - (size_t)n, ", userspace after %.1f s", w->userspace);
	if (w->started >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ", %s started after %.1f s",
			 arg_run ? "the command" : "the check", w->started);
}

/* Maps what happened to our status, with one line. */
static int outcome(const struct vm *vm, const struct watch *w)
{
	char t[128];

	times(w, t, sizeof(t));
	if (vm->interrupted) {
		log_error("%s: interrupted by signal %d after %.1f s", arg_image, vm->interrupted, vm->elapsed);
		return 128 + vm->interrupted;
	}
	if (vm->timed_out) {
		log_error("%s: timed out after %.0f s, %s%s", arg_image, arg_timeout,
			  w->started >= 0 ? "while the command ran" : "before the system had booted", t);
		return EXIT_TIMEOUT;
	}
	if (arg_interactive) {
		if (vm->status != 0) {
			log_error("%s: %s exited with status %d%s%s", arg_image, QEMU, vm->status,
				  vm->last_error[0] ? ": " : "", vm->last_error);
			return EXIT_NOBOOT;
		}
		return EXIT_DONE;
	}
	if (w->status >= 0) {
		log_notice("%s: %s exited with status %d after %.1f s%s", arg_image,
			   arg_run ? "the command" : "the boot check", w->status, vm->elapsed, t);
		return w->status;
	}
	if (w->failure[0]) {
		log_error("%s: the system did not boot: %s", arg_image, w->failure);
		return EXIT_NOBOOT;
	}
	if (vm->status != 0 && vm->last_error[0]) {
		log_error("%s: %s", arg_image, vm->last_error);
		return EXIT_NOBOOT;
	}
	if (w->started >= 0)
		log_error("%s: the system stopped while the command ran, before it exited", arg_image);
	else
		log_error("%s: the system stopped before the command started (QEMU status %d)%s", arg_image,
			  vm->status, t);
	return EXIT_NOBOOT;
}

/* --copy-out: what the guest put on its disk, unpacked into the host's
 * directory (made before the boot), owned by whoever runs img-boot. */
static int copy_out(const struct boot *b, const struct watch *w)
{
	char *tar[] = { "tar", "-xf", (char *)b->copy_path, "--no-same-owner", "-C", copy_host, NULL };

	if (strcmp(w->copy, "missing") == 0) {
		log_error("%s: --copy-out: '%s' does not exist in the guest", arg_image, copy_guest);
		return -ENOENT;
	}
	if (strcmp(w->copy, "ok") != 0) {
		log_error("%s: --copy-out: the guest could not copy '%s' out%s", arg_image, copy_guest,
			  w->copy[0] ? " (tar failed)" : " (it said nothing of it)");
		return -EIO;
	}
	if (command_run(tar, 0) != 0) {
		log_error("%s: --copy-out: cannot unpack '%s' into '%s'", arg_image, copy_guest, copy_host);
		return -EIO;
	}
	log_notice("%s: copied the guest's '%s' into '%s'", arg_image, copy_guest, copy_host);
	return 0;
}

static int run(void)
{
	_cleanup_(boot_cleanup) struct boot b = { 0 };
	_cleanup_(closep) int fd = -1, log_fd = -1;
	struct watch w = { .userspace = -1, .booted = -1, .started = -1, .status = -1 };
	char cmdline[CMDLINE_MAX], version[64], bufs[4][2 * PATH_MAX + 64], *argv[48];
	unsigned char token[8];
	struct stat st;
	sigset_t mask;
	int r;

	/* Signals wait until QEMU runs, and end it then: nothing of ours is
	 * left behind by a Ctrl-C. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	/* With --keep-writes, a read-only image is refused now, not by QEMU. */
	fd = open(arg_image, (arg_keep_writes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_errno(errno, "cannot open '%s'%s", arg_image, arg_keep_writes ? " to write (--keep-writes)" : "");
		return EXIT_NOBOOT;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		log_error("cannot boot '%s': not an image file or a block device", arg_image);
		return EXIT_NOBOOT;
	}
	if (arg_machine == MACHINE_RASPI4B && !qemu_has_machine("raspi4b", version)) {
		log_error("cannot boot '%s' on raspi4b: %s %s has no raspi4b machine (QEMU 9.0 and newer have)",
			  arg_image, QEMU, version[0] ? version : "(not installed?)");
		return EXIT_NOBOOT;
	}
	if (boot_read(fd, &b) < 0)
		return EXIT_NOBOOT;

	if (getrandom(token, sizeof(token), 0) != sizeof(token)) {
		log_errno(errno, "cannot get random bytes");
		return EXIT_NOBOOT;
	}
	snprintf(w.marker, sizeof(w.marker), "img-boot-%02x%02x%02x%02x%02x%02x%02x%02x ", token[0],
		 token[1], token[2], token[3], token[4], token[5], token[6], token[7]);
	r = cmdline_build(&b, &w, cmdline);
	if (r == -E2BIG) {
		log_error("cannot boot '%s': the kernel command line would be longer than %d bytes "
			  "(put a long command in a script)", arg_image, CMDLINE_MAX - 1);
		return EXIT_NOBOOT;
	}
	if (r < 0) {
		log_errno(r, "cannot boot '%s'", arg_image);
		return EXIT_NOBOOT;
	}
	log_debug("kernel command line: %s", cmdline);

	if (arg_log) {
		log_fd = open(arg_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (log_fd < 0) {
			log_errno(errno, "cannot open '%s'", arg_log);
			return EXIT_NOBOOT;
		}
	}
	if (arg_copy_out) {
		_cleanup_(closep) int cfd = -1;
		char *mk[] = { "mkdir", "-p", "--", copy_host, NULL };
		/* Before the boot, not after it: a directory that cannot be made
		 * costs no boot. */
		if (command_run(mk, COMMAND_SILENT) != 0) {
			log_error("cannot boot '%s' with --copy-out: cannot make the directory '%s'", arg_image,
				  copy_host);
			return EXIT_NOBOOT;
		}
		snprintf(b.copy_path, sizeof(b.copy_path), "%s/copy-out.img", b.tmpdir);
		cfd = open(b.copy_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (cfd < 0 || ftruncate(cfd, COPY_DISK_SIZE) < 0) {
			log_errno(errno, "cannot make '%s'", b.copy_path);
			return EXIT_NOBOOT;
		}
	}
	if (qemu_argv(&b, cmdline, argv, bufs) < 0) {
		log_error("cannot boot '%s': its name is too long for QEMU's -drive", arg_image);
		return EXIT_NOBOOT;
	}
	/* QEMU's snapshot overlay goes where we clean up. */
	setenv("TMPDIR", b.tmpdir, 1);

	struct vm vm = {
		.argv = argv,
		.interactive = arg_interactive,
		.timeout = arg_timeout,
		.log_fd = log_fd,
		.echo = log_enabled(LOG_DEBUG),
		.on_line = console_watch,
		.userdata = &w,
	};
	if (!arg_interactive)
		log_debug("booting %s on %s with %u CPUs (the console: %s)", arg_image,
			 arg_machine == MACHINE_VIRT ? "virt" : "raspi4b", arg_cpus,
			 arg_log ? arg_log : log_enabled(LOG_DEBUG) ? "stderr" : "-v or --log");
	r = vm_run(&vm);
	if (arg_keep_writes && fsync(fd) < 0 && errno != EINVAL) {
		log_errno(errno, "cannot write '%s' back to its disk", arg_image);
		return EXIT_NOBOOT;
	}
	if (r == -ENOENT) {
		log_error("cannot boot '%s': %s is not installed (qemu-system-arm)", arg_image, QEMU);
		return EXIT_NOBOOT;
	}
	if (r < 0) {
		log_errno(r, "cannot start %s", QEMU);
		return EXIT_NOBOOT;
	}
	r = outcome(&vm, &w);
	if (arg_copy_out && w.status >= 0 && copy_out(&b, &w) < 0)
		return EXIT_NOBOOT;
	return r;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... IMAGE\n"
	       "Boot the Raspberry Pi image IMAGE in QEMU without changing it, with the kernel,\n"
	       "initramfs and command line of its boot partition; run a command in it.\n\n"
	       "  -M, --machine=virt|raspi4b  the emulated machine (default: virt)\n"
	       "  -c, --cpus=N          CPUs (default: this host's, at most 4)\n"
	       "  -m, --memory=SIZE     memory, with a K, M or G suffix (default: 2G)\n"
	       "  -t, --timeout=SEC     stop after SEC seconds, 0: never (default: 600,\n"
	       "                        with --interactive 0)\n"
	       "  -r, --run=CMD         run CMD (sh) as root in the booted system; exit with\n"
	       "                        its status (default: check that no unit failed)\n"
	       "  -i, --interactive     the serial console on this terminal; Ctrl-A X quits\n"
	       "  -l, --log=FILE        write the serial console to FILE\n"
	       "  -a, --append=ARGS     add ARGS to the kernel command line\n"
	       "  -w, --keep-writes     let the booted system write to IMAGE itself\n"
	       "  -T, --tryboot         boot as the firmware's tryboot mode does: with the\n"
	       "                        [tryboot] sections of config.txt (Ubuntu's new/)\n"
	       "  -o, --copy-out=GUEST_PATH:HOST_DIR\n"
	       "                        after the command, bring the guest's file or\n"
	       "                        directory GUEST_PATH back into HOST_DIR\n"
	       "  -q, --quiet           only errors and the summary\n"
	       "  -v, --verbose         say more, and show the serial console on stderr\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n\n"
	       "The image is opened read-only; the booted system writes to a temporary overlay,\n"
	       "unless --keep-writes.\n\n"
	       "Exit status: the command's; 124 timeout; 125 the system did not boot or\n"
	       "img-boot failed; 2 bad usage.\n",
	       log_program());
}

static int parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || *v > max) {
		log_error("%s wants a number from 0 to %lu, not '%s'", opt, max, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "machine", required_argument, NULL, 'M' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "run", required_argument, NULL, 'r' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "log", required_argument, NULL, 'l' },
		{ "append", required_argument, NULL, 'a' },
		{ "keep-writes", no_argument, NULL, 'w' },
		{ "tryboot", no_argument, NULL, 'T' },
		{ "copy-out", required_argument, NULL, 'o' },
		CLI_COMMON_OPTIONS,
		{}
	};
	unsigned long n;
	long cpus;
	int c;

	while ((c = getopt_long(argc, argv, "M:c:m:t:r:il:a:wTo:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'M':
			if (strcmp(optarg, "virt") == 0)
				arg_machine = MACHINE_VIRT;
			else if (strcmp(optarg, "raspi4b") == 0)
				arg_machine = MACHINE_RASPI4B;
			else {
				log_error("unknown machine '%s': virt or raspi4b", optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			if (parse_uint("--cpus", optarg, 64, &n) < 0)
				return -EINVAL;
			if (n == 0) {
				log_error("--cpus wants at least 1");
				return -EINVAL;
			}
			arg_cpus = (unsigned)n;
			break;
		case 'm':
			if (size_parse(optarg, &arg_memory, NULL) < 0 || arg_memory < (64ULL << 20)) {
				log_error("invalid memory size '%s': want at least 64M", optarg);
				return -EINVAL;
			}
			break;
		case 't':
			if (parse_uint("--timeout", optarg, 86400 * 7, &n) < 0)
				return -EINVAL;
			arg_timeout = (double)n;
			break;
		case 'r':
			arg_run = optarg;
			break;
		case 'i':
			arg_interactive = true;
			break;
		case 'l':
			arg_log = optarg;
			break;
		case 'a':
			arg_append = optarg;
			break;
		case 'w':
			arg_keep_writes = true;
			break;
		case 'T':
			arg_tryboot = true;
			break;
		case 'o': {
			const char *colon = strchr(optarg, ':');
			if (arg_copy_out) {
				log_error("--copy-out may be given once");
				return -EINVAL;
			}
			if (optarg[0] != '/' || !colon || !colon[1] || (size_t)(colon - optarg) >= sizeof(copy_guest) ||
			    strlen(colon + 1) >= sizeof(copy_host)) {
				log_error("--copy-out wants GUEST_PATH:HOST_DIR with an absolute GUEST_PATH, not '%s'",
					  optarg);
				return -EINVAL;
			}
			snprintf(copy_guest, sizeof(copy_guest), "%.*s", (int)(colon - optarg), optarg);
			snprintf(copy_host, sizeof(copy_host), "%s", colon + 1);
			arg_copy_out = optarg;
			break;
		}
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (arg_interactive && (arg_run || arg_log || arg_copy_out)) {
		log_error("--interactive cannot be combined with %s",
			  arg_run ? "--run" : arg_log ? "--log" : "--copy-out");
		return -EINVAL;
	}
	if (arg_copy_out && arg_machine != MACHINE_VIRT) {
		log_error("--copy-out needs the virt machine (raspi4b has no second disk)");
		return -EINVAL;
	}
	if (cli_operand(argc, argv, "no image given", &arg_image) < 0)
		return -EINVAL;
	if (arg_timeout < 0)
		arg_timeout = arg_interactive ? 0 : 600;
	if (!arg_cpus) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		arg_cpus = cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
	}
	use_kvm = arg_machine == MACHINE_VIRT && kvm_usable();
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
