/* SPDX-License-Identifier: MIT */
#include "binfmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "readfile.h"
#include "resolve.h"

int binfmt_mount(void)
{
	if (access(BINFMT_DIR "/register", F_OK) == 0)
		return 0;
	if (mount("binfmt_misc", BINFMT_DIR, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	return 1;
}

int binfmt_status(void)
{
	char buf[32];
	int r = (int)file_read_text(AT_FDCWD, BINFMT_DIR "/status", buf, sizeof(buf));

	if (r < 0)
		return r;
	return strncmp(buf, "enabled", 7) == 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "7f454c46..." as /proc shows magic and mask. */
static int hex_decode(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		int hi = hex_digit(s[0]), lo = hex_digit(s[1]);
		if (hi < 0 || lo < 0 || n == max)
			return -EINVAL;
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return *s ? -EINVAL : (int)n;
}

/* "\x7fELF\x02..." as binfmt.d and binfmts files write them: the kernel
 * decodes \xHH and takes every other byte as it is. */
static int escape_decode(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		int c = (unsigned char)*s++;
		if (c == '\\' && *s == 'x' && hex_digit(s[1]) >= 0) {
			c = hex_digit(s[1]);
			s += 2;
			if (hex_digit(*s) >= 0)
				c = c << 4 | hex_digit(*s++);
		}
		if (n == max)
			return -EINVAL;
		out[n++] = (unsigned char)c;
	}
	return (int)n;
}

/* The mask, or all ones if there is none; it must be as long as the magic. */
static int entry_set_mask(struct binfmt_entry *e, int masklen)
{
	if (masklen == 0)
		memset(e->mask, 0xff, e->len);
	else if ((size_t)masklen != e->len)
		return -EINVAL;
	return 0;
}

/* An entry as /proc/sys/fs/binfmt_misc/NAME shows it. */
static int entry_parse_proc(int dirfd, const char *name, struct binfmt_entry *e)
{
	char buf[4096], *save = NULL;
	int masklen = 0, r;

	r = (int)file_read_text(dirfd, name, buf, sizeof(buf));
	if (r < 0)
		return r;
	*e = (struct binfmt_entry){ 0 };
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->source, sizeof(e->source), "%s/%s", BINFMT_DIR, name);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strcmp(l, "enabled") == 0)
			e->enabled = true;
		else if (strncmp(l, "interpreter ", 12) == 0)
			snprintf(e->interpreter, sizeof(e->interpreter), "%s", l + 12);
		else if (strncmp(l, "flags:", 6) == 0)
			snprintf(e->flags, sizeof(e->flags), "%s", l[6] == ' ' ? l + 7 : l + 6);
		else if (strncmp(l, "offset ", 7) == 0)
			e->offset = (unsigned)strtoul(l + 7, NULL, 10);
		else if (strncmp(l, "magic ", 6) == 0) {
			r = hex_decode(l + 6, e->magic, sizeof(e->magic));
			if (r < 0)
				return r;
			e->len = (size_t)r;
		} else if (strncmp(l, "mask ", 5) == 0) {
			masklen = hex_decode(l + 5, e->mask, sizeof(e->mask));
			if (masklen < 0)
				return masklen;
		}
	}
	return entry_set_mask(e, masklen);
}

int binfmt_foreach(int (*fn)(const struct binfmt_entry *e, void *userdata), void *userdata)
{
	DIR *d = opendir(BINFMT_DIR);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		struct binfmt_entry e;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "register") == 0 ||
		    strcmp(de->d_name, "status") == 0)
			continue;
		/* Removed meanwhile, or not readable as an entry: not one that
		 * can handle anything for us. */
		if (entry_parse_proc(dirfd(d), de->d_name, &e) < 0)
			continue;
		r = fn(&e, userdata);
	}
	closedir(d);
	return r;
}

bool binfmt_matches(const struct binfmt_entry *e, const struct elf_arch *a)
{
	if (e->len == 0 || e->offset > a->len || e->len > a->len - e->offset)
		return false;
	for (size_t i = 0; i < e->len; i++)
		if ((a->head[e->offset + i] ^ e->magic[i]) & e->mask[i])
			return false;
	return true;
}

/* ":name:type:offset:magic:mask:interpreter:flags", any first character
 * being the separator (systemd's binfmt.d, the kernel's register file). */
static int entry_parse_line(char *line, struct binfmt_entry *e)
{
	char sep = line[0], *f[7], *p = line + 1;
	int r, masklen;

	if (!sep)
		return -EINVAL;
	for (int n = 0; n < 7; n++) {
		f[n] = p;
		p = strchr(p, sep);
		if (p)
			*p++ = 0;
		else if (n < 6)
			return -EINVAL;
		else
			break;
	}
	f[6][strcspn(f[6], "\r\n \t")] = 0;
	if (strcmp(f[1], "M") != 0 || !*f[3])
		return -EINVAL; /* by extension, or no magic: not for an ELF header */
	snprintf(e->name, sizeof(e->name), "%s", f[0]);
	e->enabled = true;
	e->offset = (unsigned)strtoul(f[2], NULL, 10);
	r = escape_decode(f[3], e->magic, sizeof(e->magic));
	if (r < 0)
		return r;
	e->len = (size_t)r;
	masklen = escape_decode(f[4], e->mask, sizeof(e->mask));
	if (masklen < 0)
		return masklen;
	snprintf(e->interpreter, sizeof(e->interpreter), "%s", f[5]);
	snprintf(e->flags, sizeof(e->flags), "%s", f[6]);
	return entry_set_mask(e, masklen);
}

/* A binfmt.d file: the first line that matches a. */
static int conf_match(int dirfd, const char *name, const struct elf_arch *a, struct binfmt_entry *e)
{
	char buf[8192], *save = NULL;
	int r = (int)file_read_text(dirfd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (*l == '#' || *l == ';' || *l == 0)
			continue;
		*e = (struct binfmt_entry){ 0 };
		if (entry_parse_line(l, e) == 0 && binfmt_matches(e, a))
			return 0;
	}
	return -ENOENT;
}

/* A binfmt-support file ("key value" lines), named after its entry. */
static int binfmts_match(int dirfd, const char *name, const struct elf_arch *a, struct binfmt_entry *e)
{
	char buf[8192], *save = NULL;
	int masklen = 0, r = (int)file_read_text(dirfd, name, buf, sizeof(buf));
	bool magic = false;

	if (r < 0)
		return r;
	*e = (struct binfmt_entry){ .enabled = true };
	snprintf(e->name, sizeof(e->name), "%s", name);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, ' ');
		if (!v)
			continue;
		*v++ = 0;
		if (strcmp(l, "interpreter") == 0)
			snprintf(e->interpreter, sizeof(e->interpreter), "%s", v);
		else if (strcmp(l, "offset") == 0)
			e->offset = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(l, "magic") == 0) {
			r = escape_decode(v, e->magic, sizeof(e->magic));
			if (r < 0)
				return r;
			e->len = (size_t)r;
			magic = true;
		} else if (strcmp(l, "mask") == 0) {
			masklen = escape_decode(v, e->mask, sizeof(e->mask));
			if (masklen < 0)
				return masklen;
		} else if (strcmp(v, "yes") == 0) {
			const char *flag = strcmp(l, "preserve") == 0	  ? "P"
					   : strcmp(l, "credentials") == 0 ? "C"
					   : strcmp(l, "fix_binary") == 0  ? "F"
									   : "";
			strncat(e->flags, flag, sizeof(e->flags) - strlen(e->flags) - 1);
		}
	}
	if (!magic || entry_set_mask(e, masklen) < 0 || !binfmt_matches(e, a))
		return -ENOENT;
	return 0;
}

int binfmt_find_qemu(const struct elf_arch *a, struct binfmt_entry *e)
{
	static const struct {
		const char *dir;
		const char *suffix;
		int (*match)(int dirfd, const char *name, const struct elf_arch *a, struct binfmt_entry *e);
	} places[] = {
		{ "/usr/lib/binfmt.d", ".conf", conf_match },
		{ "/usr/share/binfmts", "", binfmts_match },
	};
	bool seen = false;

	for (size_t i = 0; i < ARRAY_SIZE(places); i++) {
		DIR *d = opendir(places[i].dir);
		struct dirent *de;
		bool found = false;

		if (!d)
			continue;
		while (!found && (de = readdir(d))) {
			size_t len = strlen(de->d_name), sl = strlen(places[i].suffix);
			if (strncmp(de->d_name, "qemu-", 5) != 0 || len < sl ||
			    strcmp(de->d_name + len - sl, places[i].suffix) != 0)
				continue;
			seen = true;
			if (places[i].match(dirfd(d), de->d_name, a, e) == 0) {
				snprintf(e->source, sizeof(e->source), "%s/%s", places[i].dir, de->d_name);
				found = true;
			}
		}
		closedir(d);
		if (found)
			return 0;
	}
	return seen ? -ENOENT : -ENOPKG;
}

static int write_string(const char *path, const char *s)
{
	_cleanup_(closep) int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

int binfmt_register(const struct binfmt_entry *e)
{
	char flags[sizeof(e->flags) + 1], line[4 * 2 * BINFMT_HEAD_MAX + PATH_MAX + NAME_MAX + 64];
	size_t n;

	if (!*e->name || strchr(e->name, '/') || strchr(e->name, ':') || strchr(e->interpreter, ':') ||
	    e->len == 0)
		return -EINVAL;
	snprintf(flags, sizeof(flags), "%s%s", e->flags, strchr(e->flags, 'F') ? "" : "F");

	/* Every byte of magic and mask escaped: none can be taken for ':'. */
	n = (size_t)snprintf(line, sizeof(line), ":%s:M:%u:", e->name, e->offset);
	for (size_t i = 0; i < e->len; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", e->magic[i]);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ":");
	for (size_t i = 0; i < e->len; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", e->mask[i]);
	snprintf(line + n, sizeof(line) - n, ":%s:%s", e->interpreter, flags);
	return write_string(BINFMT_DIR "/register", line);
}

int binfmt_remove(const char *name)
{
	char path[sizeof(BINFMT_DIR) + NAME_MAX + 1];

	if (!*name || strchr(name, '/') || strlen(name) > NAME_MAX)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", BINFMT_DIR, name);
	return write_string(path, "-1");
}

struct handler_search {
	const struct elf_arch *a;
	int rootfd;
	const char *name; /* when set: look for this entry only */
	struct binfmt_entry found;
};

/* An enabled entry for a's programs whose emulator the programs reach:
 * held open by the kernel (F), or at its path inside rootfd's tree. */
static int entry_handles(const struct binfmt_entry *e, void *userdata)
{
	struct handler_search *h = userdata;

	if (!e->enabled || !binfmt_matches(e, h->a))
		return 0;
	if (!strchr(e->flags, 'F')) {
		_cleanup_(closep) int fd = h->rootfd >= 0 ? resolve_open(h->rootfd, e->interpreter, O_PATH, 0) : -1;
		if (fd < 0)
			return 0;
	}
	h->found = *e;
	return 1;
}

static int entry_named(const struct binfmt_entry *e, void *userdata)
{
	struct handler_search *h = userdata;

	if (strcmp(e->name, h->name) != 0)
		return 0;
	h->found = *e;
	return 1;
}

int binfmt_provide(const struct elf_arch *a, int rootfd, const char *subject)
{
	struct handler_search h = { .a = a, .rootfd = rootfd };
	struct elf_arch host;
	struct binfmt_entry qemu;
	char b1[32], b2[32];
	const char *aname = elf_arch_name(a, b1), *hname;
	_cleanup_(closep) int emu = -1;
	int r;

	r = elf_arch_host(&host);
	if (r < 0)
		return log_errno(r, "cannot read this host's architecture from /proc/self/exe");
	hname = elf_arch_name(&host, b2);
	if (elf_arch_native(&host, a)) {
		log_debug("%s %s programs, which this %s host runs itself", subject, aname, hname);
		return 0;
	}

	r = binfmt_mount();
	if (r < 0)
		return log_errno(r, "cannot mount binfmt_misc on %s", BINFMT_DIR);
	r = binfmt_status();
	if (r < 0)
		return log_errno(r, "cannot read %s/status", BINFMT_DIR);
	if (r == 0) {
		log_error("binfmt_misc is disabled on this host; 'echo 1 > %s/status' enables it", BINFMT_DIR);
		return -EPERM;
	}
	if (binfmt_foreach(entry_handles, &h) > 0) {
		log_debug("binfmt_misc entry '%s' runs %s programs", h.found.name, aname);
		return 0;
	}

	r = binfmt_find_qemu(a, &qemu);
	if (r == -ENOPKG) {
		log_error("%s %s programs and this host runs %s; install qemu-user-static to run them", subject,
			  aname, hname);
		return r;
	}
	if (r < 0) {
		log_error("%s %s programs and this host runs %s; qemu-user-static has no emulator for them", subject,
			  aname, hname);
		return r;
	}
	/* The kernel starts the emulator where the programs run (a container,
	 * a chroot), where the host's shared libraries are not. */
	emu = open(qemu.interpreter, O_RDONLY | O_CLOEXEC);
	r = emu < 0 ? -errno : elf_is_static(emu);
	if (r < 0)
		return log_errno(r, "cannot use the emulator '%s' named in '%s'", qemu.interpreter, qemu.source);
	if (r == 0) {
		log_error("the emulator '%s' named in '%s' is not statically linked; install qemu-user-static",
			  qemu.interpreter, qemu.source);
		return -ENOEXEC;
	}

	/* Never remove an entry that works: other builds, or the host itself,
	 * may be starting programs through it right now. One of that name
	 * that is disabled or whose emulator is gone is replaced; one that
	 * works but cannot serve here (no F flag) stays, and ours goes beside
	 * it under another name (the kernel tries the newest entry first). */
	h.name = qemu.name;
	if (binfmt_foreach(entry_named, &h) > 0) {
		if (h.found.enabled && access(h.found.interpreter, X_OK) == 0) {
			char name[sizeof(qemu.name)];
			if (snprintf(name, sizeof(name), "rtik-%.*s", NAME_MAX - 5, qemu.name) < 0)
				return -EINVAL;
			memcpy(qemu.name, name, sizeof(name));
			log_debug("binfmt_misc entry '%s' works but has no F flag: registering '%s' beside it",
				  h.found.name, qemu.name);
		} else {
			r = binfmt_remove(h.found.name);
			if (r < 0 && r != -ENOENT)
				return log_errno(r, "cannot remove the broken binfmt_misc entry '%s'", h.found.name);
		}
	}
	r = binfmt_register(&qemu);
	/* Another build registered it between our look and our write. */
	h.name = NULL;
	if (r == -EEXIST && binfmt_foreach(entry_handles, &h) > 0)
		return 0;
	if (r < 0)
		return log_errno(r, "cannot register the binfmt_misc entry '%s' from '%s'", qemu.name, qemu.source);
	log_info("registered binfmt_misc entry '%s' from '%s' to run %s programs", qemu.name, qemu.source, aname);
	return 0;
}
