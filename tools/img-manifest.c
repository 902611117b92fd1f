/* SPDX-License-Identifier: MIT */
/*
 * img-manifest: write what went into a finished image, NAME.manifest (text),
 * NAME.manifest.json and its software bill of materials NAME.cdx.json
 * (CycloneDX, lib/sbom.c), all three from one reading of the image: its
 * packages with their versions, sources, suites and licenses, the kernel
 * that will boot, the recipe's variables, downloads and overlays' files,
 * the build date and the version of rt-image-kit.
 *
 * The image is only read, in place, and never by the target's own programs:
 * the dpkg database and /boot of the root filesystem come out through
 * debugfs (IMAGE?offset=N, e2fsprogs' unix I/O option), config.txt of the
 * boot partition through mtools. No loop device, no mount, no emulation,
 * no root: reading the image is enough.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "common.h"
#include "debugfs.h"
#include "dpkg.h"
#include "fat.h"
#include "hash.h"
#include "jsonout.h"
#include "log.h"
#include "outfile.h"
#include "parttable.h"
#include "rpiconfig.h"
#include "sbom.h"
#include "text.h"

static const char *arg_info;
static unsigned arg_partition; /* 0: the last ext2/3/4 one */
static const char *arg_out_dir;
static const char *arg_name;
static const char *arg_image;

#define STATUS_MAX (256u << 20) /* dpkg's status file: a few MB at most */

struct var {
	char *name, *value;
};

struct download {
	char sha256[SHA256_HEX_LEN + 1];
	char *url;
};

/* "file SHA256 OVERLAY PATH", "archive SUITE URL": the words point into
 * line. */
struct entry {
	char *line;
	const char *a, *b, *c;
};

/* "suite NAME ARCH VERSION SUITE": the suite (or suites, comma-separated)
 * whose apt lists had that version when it was installed. */
struct origin {
	char *line; /* owns the words below */
	const char *name, *arch, *version, *suite;
};

struct manifest {
	int fd;
	uint64_t size;
	char sha256[SHA256_HEX_LEN + 1];
	char name[NAME_MAX + 1];
	char path[PATH_MAX]; /* of NAME.manifest, for the summary */

	int root_nr;
	struct debugfs root;
	int boot_nr;                   /* 0: no FAT partition */
	uint64_t boot_start;

	char *status; /* /var/lib/dpkg/status, cut up by pkgs */
	struct dpkg_pkg *pkgs;
	size_t n_pkgs;

	struct var *vars;
	size_t n_vars;
	struct download *dls;
	size_t n_dls;
	struct origin *origins;
	size_t n_origins;
	struct entry *files; /* sha256 overlay path */
	size_t n_files;
	struct entry *archives; /* suite url */
	size_t n_archives;
	struct var *build; /* build facts: the recipe's commit, host tools */
	size_t n_build;

	bool no_pkgdb; /* no /var/lib/dpkg/status */
	char **licenses; /* per package, or NULL */
	char distro[32], codename[32]; /* /etc/os-release ID, VERSION_CODENAME */

	char kernel[256];    /* the release; "" if none was found */
	const char *kernel_rule;

	char date[32];
	const char *date_source;
};

static void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n_vars; i++) {
		free(m->vars[i].name);
		free(m->vars[i].value);
	}
	for (size_t i = 0; i < m->n_dls; i++)
		free(m->dls[i].url);
	for (size_t i = 0; i < m->n_origins; i++)
		free(m->origins[i].line);
	free(m->origins);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i].line);
	free(m->files);
	for (size_t i = 0; i < m->n_archives; i++)
		free(m->archives[i].line);
	free(m->archives);
	for (size_t i = 0; i < m->n_build; i++) {
		free(m->build[i].name);
		free(m->build[i].value);
	}
	free(m->build);
	for (size_t i = 0; m->licenses && i < m->n_pkgs; i++)
		free(m->licenses[i]);
	free(m->licenses);
	free(m->vars);
	free(m->dls);
	free(m->pkgs);
	free(m->status);
}

static void *array_grow(void *p, size_t n, size_t size)
{
	/* Room for one more; grows by doubling when n is a power of two. */
	if (n && (n & (n - 1)))
		return p;
	return realloc(p, (n ? n * 2 : 8) * size);
}

/* ---- --info ---- */

static bool var_name_valid(const char *s)
{
	if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* KEYWORD followed by a blank. */
static bool info_is(const char *l, const char *keyword)
{
	size_t n = strlen(keyword);
	return strncmp(l, keyword, n) == 0 && (l[n] == ' ' || l[n] == '\t');
}

/* "KEYWORD W1 W2 REST": 2 words and (with rest) the rest of the line. */
static int info_entry(const char *l, unsigned nr, const char *want, bool rest, struct entry **list,
		      size_t *n)
{
	char *copy = strdup(l), *save = NULL, *w[3] = { 0 };
	struct entry *e;

	if (!copy)
		return log_errno(ENOMEM, "cannot read '%s'", arg_info);
	w[0] = strtok_r(copy, " \t", &save);
	w[1] = strtok_r(NULL, " \t", &save);
	if (rest) {
		w[2] = save ? save + strspn(save, " \t") : NULL;
		if (w[2] && !*w[2])
			w[2] = NULL;
	} else if (strtok_r(NULL, " \t", &save))
		w[1] = NULL;
	if (!w[0] || !w[1] || (rest && !w[2])) {
		free(copy);
		log_error("%s:%u: want '%s'", arg_info, nr, want);
		return -EINVAL;
	}
	e = array_grow(*list, *n, sizeof(*e));
	if (!e) {
		free(copy);
		return log_errno(ENOMEM, "cannot read '%s'", arg_info);
	}
	*list = e;
	e[(*n)++] = (struct entry){ copy, w[0], w[1], w[2] };
	return 0;
}

static int info_line(struct manifest *m, char *l, unsigned nr)
{
	if (info_is(l, "file")) {
		int r = info_entry(l + 4, nr, "file SHA256 OVERLAY PATH", true, &m->files, &m->n_files);
		struct entry *e = r == 0 ? &m->files[m->n_files - 1] : NULL;
		if (r == 0 && !sha256_hex_valid(e->a)) {
			log_error("%s:%u: '%s' is not a SHA-256 (64 hex digits)", arg_info, nr, e->a);
			return -EINVAL;
		}
		/* A later overlay's file at the same path is the one in the
		 * image: it replaces the earlier line. */
		for (size_t i = 0; r == 0 && i + 1 < m->n_files; i++)
			if (strcmp(m->files[i].c, e->c) == 0) {
				free(m->files[i].line);
				m->files[i] = *e;
				m->n_files--;
				break;
			}
		return r;
	}
	if (info_is(l, "archive"))
		return info_entry(l + 7, nr, "archive SUITE URL", false, &m->archives, &m->n_archives);
	if (info_is(l, "var") || info_is(l, "build")) {
		bool build = l[0] == 'b';
		char *name = l + (build ? 5 : 3), *eq;
		struct var **vars = build ? &m->build : &m->vars;
		size_t *n_vars = build ? &m->n_build : &m->n_vars;

		name += strspn(name, " \t");
		eq = strchr(name, '=');
		if (!eq) {
			log_error("%s:%u: want '%s NAME=VALUE'", arg_info, nr, build ? "build" : "var");
			return -EINVAL;
		}
		*eq = 0;
		if (!var_name_valid(name)) {
			log_error("%s:%u: '%s' is not a variable name", arg_info, nr, name);
			return -EINVAL;
		}
		for (size_t i = 0; i < *n_vars; i++)
			if (strcmp((*vars)[i].name, name) == 0) {
				log_error("%s:%u: %s %s is set twice", arg_info, nr,
					  build ? "build fact" : "variable", name);
				return -EINVAL;
			}
		struct var *v = array_grow(*vars, *n_vars, sizeof(*v));
		if (!v)
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		*vars = v;
		v[*n_vars] = (struct var){ strdup(name), strdup(eq + 1) };
		if (!v[*n_vars].name || !v[*n_vars].value) {
			free(v[*n_vars].name);
			free(v[*n_vars].value);
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		}
		(*n_vars)++;
		return 0;
	}
	if (strncmp(l, "download", 8) == 0 && (l[8] == ' ' || l[8] == '\t')) {
		char *save = NULL, *sha = strtok_r(l + 8, " \t", &save);
		char *url = strtok_r(NULL, " \t", &save), *extra = strtok_r(NULL, " \t", &save);
		if (!sha || !url || extra) {
			log_error("%s:%u: want 'download SHA256 URL'", arg_info, nr);
			return -EINVAL;
		}
		if (!sha256_hex_valid(sha)) {
			log_error("%s:%u: '%s' is not a SHA-256 (64 hex digits)", arg_info, nr, sha);
			return -EINVAL;
		}
		for (char *p = sha; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
		for (size_t i = 0; i < m->n_dls; i++)
			if (strcmp(m->dls[i].url, url) == 0) {
				if (strcmp(m->dls[i].sha256, sha) == 0)
					return 0;
				log_error("%s:%u: %s is listed twice with different SHA-256", arg_info, nr, url);
				return -EINVAL;
			}
		struct download *d = array_grow(m->dls, m->n_dls, sizeof(*d));
		if (!d)
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		m->dls = d;
		d[m->n_dls].url = strdup(url);
		if (!d[m->n_dls].url)
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		memcpy(d[m->n_dls].sha256, sha, SHA256_HEX_LEN + 1);
		m->n_dls++;
		return 0;
	}
	if (strncmp(l, "suite", 5) == 0 && (l[5] == ' ' || l[5] == '\t')) {
		char *copy = strdup(l + 5), *save = NULL, *w[5];
		int n = 0;

		if (!copy)
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		for (char *t = strtok_r(copy, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
			w[n++] = t;
		if (n != 4) {
			free(copy);
			log_error("%s:%u: want 'suite NAME ARCH VERSION SUITE'", arg_info, nr);
			return -EINVAL;
		}
		struct origin *o = array_grow(m->origins, m->n_origins, sizeof(*o));
		if (!o) {
			free(copy);
			return log_errno(ENOMEM, "cannot read '%s'", arg_info);
		}
		m->origins = o;
		o[m->n_origins] = (struct origin){ copy, w[0], w[1], w[2], w[3] };
		m->n_origins++;
		return 0;
	}
	log_error("%s:%u: want 'var NAME=VALUE', 'build NAME=VALUE', 'download SHA256 URL', 'suite NAME "
		  "ARCH VERSION SUITE', 'archive SUITE URL' or 'file SHA256 OVERLAY PATH', not '%s'",
		  arg_info, nr, l);
	return -EINVAL;
}

static int info_read(struct manifest *m)
{
	_cleanup_(freep) char *line = NULL;
	size_t cap = 0;
	unsigned nr = 0;
	ssize_t n;
	FILE *f;
	int r = 0;

	if (!arg_info)
		return 0;
	f = fopen(arg_info, "re");
	if (!f)
		return log_errno(errno, "cannot open '%s'", arg_info);
	while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
		char *l = line + strspn(line, " \t");
		nr++;
		if ((size_t)n != strlen(line)) {
			log_error("%s:%u: a NUL byte in the line", arg_info, nr);
			r = -EINVAL;
			break;
		}
		l[strcspn(l, "\r\n")] = 0;
		if (*l && *l != '#')
			r = info_line(m, l, nr);
	}
	if (r == 0 && ferror(f))
		r = log_errno(EIO, "cannot read '%s'", arg_info);
	fclose(f);
	return r;
}

/* ---- the root filesystem, through debugfs ---- */

static int root_error(const struct manifest *m, int r, const char *request)
{
	if (r == -EIO)
		log_error("cannot read the root filesystem (partition %d) of '%s': debugfs -R '%s' "
			  "failed", m->root_nr, arg_image, request);
	else
		log_errno(r, "cannot read the root filesystem (partition %d) of '%s' (debugfs -R '%s')",
			  m->root_nr, arg_image, request);
	return r;
}

static int root_stat(const struct manifest *m, const char *path, char type[static 32],
		     char link[static PATH_MAX])
{
	int r = debugfs_stat(&m->root, path, type, link);
	return r < 0 ? root_error(m, r, path) : 0;
}

static int packages_read(struct manifest *m)
{
	static const char path[] = "/var/lib/dpkg/status";
	char type[32], link[PATH_MAX];
	int r;

	r = root_stat(m, path, type, link);
	if (r < 0)
		return r;
	if (strcmp(type, "regular") != 0) {
		/* A Buildroot, Alpine or busybox root: what can be listed is. */
		log_warning("'%s' has no %s in its root filesystem (partition %d): no package database, "
			    "no packages listed", arg_image, path, m->root_nr);
		m->no_pkgdb = true;
		return 0;
	}
	r = debugfs_cat(&m->root, path, &m->status, STATUS_MAX);
	if (r < 0)
		return root_error(m, r, path);
	r = dpkg_status_parse(m->status, &m->pkgs, &m->n_pkgs);
	if (r < 0)
		return log_errno(r, "cannot list the packages of '%s'", arg_image);
	return 0;
}

/* /etc/os-release, else /usr/lib/os-release (Debian's /etc one is a
 * symlink to it): ID and VERSION_CODENAME, for the packages' URLs. */
static int os_release_read(struct manifest *m)
{
	static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
	char type[32], link[PATH_MAX];
	int r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		_cleanup_(freep) char *text = NULL;

		r = root_stat(m, paths[i], type, link);
		if (r < 0)
			return r;
		if (strcmp(type, "regular") != 0)
			continue;
		r = debugfs_cat(&m->root, paths[i], &text, 1 << 16);
		if (r < 0)
			return root_error(m, r, paths[i]);
		for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *dst = NULL, *v;
			size_t size = 0;

			if (strncmp(l, "ID=", 3) == 0)
				dst = m->distro, size = sizeof(m->distro), v = l + 3;
			else if (strncmp(l, "VERSION_CODENAME=", 17) == 0)
				dst = m->codename, size = sizeof(m->codename), v = l + 17;
			else
				continue;
			v += strspn(v, "\"'");
			v[strcspn(v, "\"' \t")] = 0;
			snprintf(dst, size, "%s", v);
		}
		return 0;
	}
	return 0;
}

/* The licenses each package's machine-readable copyright file names. */
static int licenses_read(struct manifest *m)
{
	char path[PATH_MAX];
	int r;

	if (!m->n_pkgs)
		return 0;
	m->licenses = calloc(m->n_pkgs, sizeof(*m->licenses));
	if (!m->licenses)
		return log_errno(ENOMEM, "cannot list the licenses");
	for (size_t i = 0; i < m->n_pkgs; i++) {
		_cleanup_(freep) char *text = NULL;

		snprintf(path, sizeof(path), "/usr/share/doc/%s/copyright", m->pkgs[i].name);
		/* Nothing on stdout where there is no such file. */
		r = debugfs_cat(&m->root, path, &text, 4 << 20);
		if (r < 0 && r != -EFBIG)
			return root_error(m, r, path);
		if (r == 0 && dpkg_copyright_licenses(text, &m->licenses[i]) < 0)
			return log_errno(ENOMEM, "cannot list the licenses");
	}
	return 0;
}

/* ---- the kernel that boots ---- */

/* vmlinuz-REL (also with a directory) -> REL */
static bool kernel_release(const char *file, char rel[static 256])
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	if (strncmp(base, "vmlinuz-", 8) != 0 || !base[8] || strlen(base + 8) >= 256)
		return false;
	strcpy(rel, base + 8);
	return true;
}

/* Rule 1: kernel= in config.txt of the boot partition. */
static int kernel_from_config(struct manifest *m)
{
	_cleanup_(fat_closep) struct fat f = FAT_INIT;
	_cleanup_(freep) char *text = NULL;
	struct rpi_config cfg;
	int r;

	if (!m->boot_nr)
		return 0;
	r = fat_open(&f, arg_image, m->boot_start);
	if (r == -ENOENT)
		return log_errno(r, "cannot read the boot partition of '%s': mdir (mtools)", arg_image);
	if (r < 0)
		return log_errno(r, "cannot read the boot partition (%d) of '%s'", m->boot_nr, arg_image);
	r = fat_read(&f, "config.txt", &text, 1 << 20);
	if (r == -ENOENT) {
		log_debug("boot partition %d has no config.txt", m->boot_nr);
		return 0;
	}
	if (r < 0)
		return log_errno(r, "cannot read config.txt of '%s'", arg_image);
	rpi_config_parse(text, false, &cfg);
	if (!cfg.kernel_set || !kernel_release(cfg.kernel, m->kernel)) {
		log_debug("config.txt: %s%s, not vmlinuz-RELEASE", cfg.kernel_set ? "kernel=" : "no kernel=, ",
			  cfg.kernel);
		return 0;
	}
	m->kernel_rule = "config.txt";
	return 0;
}

/* Rule 2: the symlink Debian's kernel hooks keep up to date. */
static int kernel_from_symlink(struct manifest *m, const char *path)
{
	char type[32], link[PATH_MAX];
	int r;

	r = root_stat(m, path, type, link);
	if (r < 0 || strcmp(type, "symlink") != 0)
		return r;
	if (kernel_release(link, m->kernel))
		m->kernel_rule = path;
	else
		log_debug("%s points to '%s', not vmlinuz-RELEASE", path, link);
	return 0;
}

/* Rule 3: the highest release among /boot/vmlinuz-*. */
static int kernel_from_boot_dir(struct manifest *m)
{
	_cleanup_(freep) char *out = NULL;
	char rel[256];
	int r;

	/* ls -p: /INODE/MODE/UID/GID/NAME/SIZE/ per entry. */
	r = debugfs_request(&m->root, "ls -p /boot", &out, STATUS_MAX);
	if (r < 0)
		return root_error(m, r, "ls -p /boot");
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *name = l;
		for (int i = 0; i < 5 && name; i++)
			name = strchr(name + (i > 0), '/');
		if (!name)
			continue;
		name++;
		name[strcspn(name, "/")] = 0;
		if (kernel_release(name, rel) && (!m->kernel[0] || strverscmp(rel, m->kernel) > 0)) {
			memcpy(m->kernel, rel, sizeof(rel));
			m->kernel_rule = "/boot/vmlinuz-*";
		}
	}
	return 0;
}

static int kernel_find(struct manifest *m)
{
	int r;

	if ((r = kernel_from_config(m)) < 0 || m->kernel[0])
		return r;
	if ((r = kernel_from_symlink(m, "/boot/vmlinuz")) < 0 || m->kernel[0])
		return r;
	if ((r = kernel_from_symlink(m, "/vmlinuz")) < 0 || m->kernel[0])
		return r;
	return kernel_from_boot_dir(m);
}

/* ---- the image ---- */

static int image_inspect(struct manifest *m)
{
	struct part parts[PARTTABLE_MAX];
	const struct part *root = NULL;
	struct part_fs fs;
	int n, r;

	n = parttable_read(arg_image, parts);
	if (n == -ENOMEDIUM || n == 0) {
		log_error("cannot read '%s': it has no partition table", arg_image);
		return -ENOMEDIUM;
	}
	if (n < 0)
		return log_errno(n, "cannot read the partition table of '%s'", arg_image);
	for (int i = 0; i < n; i++) {
		if (part_probe(m->fd, &parts[i], &fs) < 0)
			continue;
		bool ext = strcmp(fs.type, "ext2") == 0 || strcmp(fs.type, "ext3") == 0 ||
			   strcmp(fs.type, "ext4") == 0;
		if (arg_partition && (unsigned)parts[i].nr == arg_partition) {
			if (!ext) {
				log_error("cannot read partition %u of '%s': it holds %s, not ext2/3/4",
					  arg_partition, arg_image, fs.type[0] ? fs.type : "no filesystem");
				return -EMEDIUMTYPE;
			}
			root = &parts[i];
		} else if (!arg_partition && ext)
			root = &parts[i];
		if (!m->boot_nr && strcmp(fs.type, "vfat") == 0) {
			m->boot_nr = parts[i].nr;
			m->boot_start = parts[i].start;
		}
	}
	if (!root) {
		if (arg_partition)
			log_error("cannot read partition %u of '%s': there is no such partition",
				  arg_partition, arg_image);
		else
			log_error("cannot read '%s': no partition holds an ext2/3/4 filesystem", arg_image);
		return -ENOENT;
	}
	m->root_nr = root->nr;
	r = debugfs_init(&m->root, arg_image, root->start);
	if (r == -EINVAL) {
		/* debugfs would take what follows it for I/O options. */
		log_error("cannot read '%s': debugfs cannot open a path with '?' in it", arg_image);
		return r;
	}
	if (r < 0)
		return log_errno(r, "cannot read '%s'", arg_image);
	log_debug("root: partition %d at %" PRIu64 "; boot: %d", root->nr, root->start, m->boot_nr);
	return 0;
}

static int image_hash(struct manifest *m)
{
	struct sha256 h;
	int r;

	log_info("hashing '%s'", arg_image);
	r = sha256_init(&h);
	if (r == 0)
		r = sha256_add_fd(&h, m->fd, m->size);
	if (r == 0)
		r = sha256_peek_hex(&h, m->sha256);
	sha256_free(&h);
	if (r < 0)
		return log_errno(r, "cannot read '%s'", arg_image);
	return 0;
}

static int date_set(struct manifest *m)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	unsigned long long v;
	struct tm tm;
	time_t t;
	char *end;

	if (s && *s) {
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || *end || s[0] < '0' || s[0] > '9' || v > (unsigned long long)INT64_MAX) {
			log_error("SOURCE_DATE_EPOCH='%s' is not a number of seconds", s);
			return -EINVAL;
		}
		t = (time_t)v;
		m->date_source = "SOURCE_DATE_EPOCH";
	} else {
		t = time(NULL);
		m->date_source = "now";
	}
	if (!gmtime_r(&t, &tm) || !strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		log_error("SOURCE_DATE_EPOCH='%s' is out of range", s);
		return -ERANGE;
	}
	return 0;
}

/* ---- the outputs ---- */

static int var_cmp(const void *a, const void *b)
{
	return strcmp(((const struct var *)a)->name, ((const struct var *)b)->name);
}

static int dl_cmp(const void *a, const void *b)
{
	return strcmp(((const struct download *)a)->url, ((const struct download *)b)->url);
}

static int width(size_t n, const char *(*get)(const struct dpkg_pkg *), const struct dpkg_pkg *p)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (strlen(get(&p[i])) > w)
			w = strlen(get(&p[i]));
	return w > 200 ? 200 : (int)w;
}
/* The suite the installed version came from, or NULL. */
static const char *pkg_suite(const struct manifest *m, const struct dpkg_pkg *p)
{
	for (size_t i = 0; i < m->n_origins; i++) {
		const struct origin *o = &m->origins[i];
		if (strcmp(o->name, p->name) == 0 && strcmp(o->arch, p->arch) == 0 &&
		    strcmp(o->version, p->version) == 0)
			return o->suite;
	}
	return NULL;
}

static const char *pkg_name(const struct dpkg_pkg *p) { return p->name; }
static const char *pkg_version(const struct dpkg_pkg *p) { return p->version; }

static void text_write(const struct manifest *m, const char *image_base, struct text *t)
{
	int wn = width(m->n_pkgs, pkg_name, m->pkgs), wv = width(m->n_pkgs, pkg_version, m->pkgs);

	text_add(t, "# rt-image-kit manifest of %s\n", m->name);
	text_add(t, "name: %s\nimage: %s\nimage-size: %" PRIu64 "\nimage-sha256: %s\n", m->name,
		 image_base, m->size, m->sha256);
	text_add(t, "build-date: %s\nbuild-date-source: %s\nrt-image-kit: %s\n", m->date,
		 m->date_source, VERSION);
	text_add(t, "kernel: %s\nkernel-rule: %s\n", m->kernel[0] ? m->kernel : "unknown",
		 m->kernel_rule ? m->kernel_rule : "none");
	text_add(t, "\nvariables: %zu\n", m->n_vars);
	for (size_t i = 0; i < m->n_vars; i++)
		text_add(t, "  %s=%s\n", m->vars[i].name, m->vars[i].value);
	text_add(t, "\ndownloads: %zu\n", m->n_dls);
	for (size_t i = 0; i < m->n_dls; i++)
		text_add(t, "  %s  %s\n", m->dls[i].sha256, m->dls[i].url);
	if (m->n_files) {
		text_add(t, "\nfiles: %zu\n", m->n_files);
		for (size_t i = 0; i < m->n_files; i++)
			text_add(t, "  %s  %s  (%s)\n", m->files[i].a, m->files[i].c, m->files[i].b);
	}
	if (m->no_pkgdb)
		text_add(t, "\npackages: none: no package database (/var/lib/dpkg/status) in the image\n");
	else
		text_add(t, "\npackages: %zu\n", m->n_pkgs);
	for (size_t i = 0; i < m->n_pkgs; i++) {
		const char *suite = pkg_suite(m, &m->pkgs[i]);
		if (suite)
			text_add(t, "  %-*s  %-*s  %-5s  %s\n", wn, m->pkgs[i].name, wv, m->pkgs[i].version,
				 m->pkgs[i].arch, suite);
		else
			text_add(t, "  %-*s  %-*s  %s\n", wn, m->pkgs[i].name, wv, m->pkgs[i].version,
				 m->pkgs[i].arch);
	}
}

static int json_write(const struct manifest *m, const char *image_base, struct text *t)
{
	json_auto_t *root = NULL;
	json_t *vars = json_object(), *dls = json_array(), *pkgs = json_array(), *files = json_array();

	for (size_t i = 0; vars && i < m->n_vars; i++)
		json_object_set_new(vars, m->vars[i].name, json_str(m->vars[i].value));
	for (size_t i = 0; dls && i < m->n_dls; i++)
		json_array_append_new(dls, json_pack("{s:o, s:s}", "url", json_str(m->dls[i].url),
						     "sha256", m->dls[i].sha256));
	for (size_t i = 0; pkgs && i < m->n_pkgs; i++) {
		const struct dpkg_pkg *p = &m->pkgs[i];
		const char *suite = pkg_suite(m, p);
		json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "name", json_str(p->name), "version",
				      json_str(p->version), "architecture", json_str(p->arch), "source",
				      json_str(p->source), "source_version", json_str(p->source_version));
		if (o && suite)
			json_object_set_new(o, "suite", json_str(suite));
		json_array_append_new(pkgs, o);
	}
	for (size_t i = 0; files && i < m->n_files; i++)
		json_array_append_new(files, json_pack("{s:o, s:s, s:o}", "path", json_str(m->files[i].c),
						       "sha256", m->files[i].a, "overlay",
						       json_str(m->files[i].b)));
	root = json_pack("{s:o, s:{s:o, s:I, s:s}, s:s, s:s, s:s, s:{s:o, s:s}, s:o, s:o, s:o, s:o, s:o}",
			 "name", json_str(m->name), "image", "file", json_str(image_base), "size",
			 (json_int_t)m->size, "sha256", m->sha256, "build_date", m->date,
			 "build_date_source", m->date_source, "rt_image_kit_version", VERSION, "kernel",
			 "release", m->kernel[0] ? json_str(m->kernel) : json_null(), "rule",
			 m->kernel_rule ? m->kernel_rule : "none", "variables", vars, "downloads", dls,
			 "package_database", m->no_pkgdb ? json_null() : json_string("/var/lib/dpkg/status"),
			 "packages", pkgs, "files", files);
	return root ? json_text(root, t) : -ENOMEM;
}

/* The SBOM, from the same reading as the manifests. */
static int sbom_write(const struct manifest *m, struct text *t)
{
	size_t n_props = m->n_vars + m->n_build + 1;
	_cleanup_(freep) struct sbom_pkg *pkgs = calloc(m->n_pkgs + 1, sizeof(*pkgs));
	_cleanup_(freep) struct sbom_download *dls = calloc(m->n_dls + 1, sizeof(*dls));
	_cleanup_(freep) struct sbom_archive *archives = calloc(m->n_archives + 1, sizeof(*archives));
	_cleanup_(freep) struct sbom_file *files = calloc(m->n_files + 1, sizeof(*files));
	_cleanup_(freep) struct sbom_prop *props = calloc(n_props, sizeof(*props));
	_cleanup_(freep) char *names = calloc(n_props, 128);
	const char *image_url = NULL;
	size_t np = 0;

	if (!pkgs || !dls || !archives || !files || !props || !names)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_pkgs; i++) {
		const struct dpkg_pkg *p = &m->pkgs[i];
		pkgs[i] = (struct sbom_pkg){ p->name, p->version, p->arch, p->source, p->source_version,
					     pkg_suite(m, p), m->licenses ? m->licenses[i] : NULL };
	}
	for (size_t i = 0; i < m->n_vars; i++)
		if (strcmp(m->vars[i].name, "IMAGE_URL") == 0)
			image_url = m->vars[i].value;
	for (size_t i = 0; i < m->n_dls; i++)
		dls[i] = (struct sbom_download){ m->dls[i].url, m->dls[i].sha256,
						 image_url && strcmp(image_url, m->dls[i].url) == 0 };
	for (size_t i = 0; i < m->n_archives; i++)
		archives[i] = (struct sbom_archive){ m->archives[i].a, m->archives[i].b };
	for (size_t i = 0; i < m->n_files; i++)
		files[i] = (struct sbom_file){ m->files[i].c, m->files[i].a, m->files[i].b };
	for (size_t i = 0; i < m->n_vars; i++, np++) {
		snprintf(names + np * 128, 128, "rt-image-kit:var:%s", m->vars[i].name);
		props[np] = (struct sbom_prop){ names + np * 128, m->vars[i].value };
	}
	for (size_t i = 0; i < m->n_build; i++, np++) {
		snprintf(names + np * 128, 128, "rt-image-kit:build:%s", m->build[i].name);
		props[np] = (struct sbom_prop){ names + np * 128, m->build[i].value };
	}
	props[np++] = (struct sbom_prop){ "rt-image-kit:build-date-source", m->date_source };
	struct sbom s = {
		.name = m->name, .image_sha256 = m->sha256, .date = m->date, .tool_version = VERSION,
		.kernel = m->kernel[0] ? m->kernel : NULL, .image_size = m->size,
		.distro = m->distro[0] ? m->distro : NULL, .codename = m->codename[0] ? m->codename : NULL,
		.no_package_db = m->no_pkgdb, .pkgs = pkgs, .n_pkgs = m->n_pkgs, .dls = dls,
		.n_dls = m->n_dls, .archives = archives, .n_archives = m->n_archives, .files = files,
		.n_files = m->n_files, .props = props, .n_props = np,
	};
	return sbom_cyclonedx(&s, t);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->c ? x->c : x->a, y->c ? y->c : y->a);
	return c ? c : strcmp(x->a, y->a);
}

/* NAME.manifest, NAME.manifest.json and NAME.cdx.json. */
enum { OUT_TEXT, OUT_JSON, OUT_SBOM, OUT_N };

static void texts_free(struct text (*t)[OUT_N])
{
	for (int k = 0; k < OUT_N; k++)
		text_free(&(*t)[k]);
}
static const char *const out_suffix[OUT_N] = { ".manifest", ".manifest.json", ".cdx.json" };

static int outputs_write(struct manifest *m, struct outfile out[static OUT_N])
{
	_cleanup_(texts_free) struct text t[OUT_N] = { TEXT_INIT, TEXT_INIT, TEXT_INIT };
	_cleanup_(freep) char *copy = strdup(arg_image);
	const char *base = copy ? basename(copy) : arg_image;
	int r;

	if (m->n_vars) /* qsort wants a base even for nothing */
		qsort(m->vars, m->n_vars, sizeof(*m->vars), var_cmp);
	if (m->n_build)
		qsort(m->build, m->n_build, sizeof(*m->build), var_cmp);
	if (m->n_dls)
		qsort(m->dls, m->n_dls, sizeof(*m->dls), dl_cmp);
	if (m->n_files)
		qsort(m->files, m->n_files, sizeof(*m->files), entry_cmp);
	if (m->n_archives)
		qsort(m->archives, m->n_archives, sizeof(*m->archives), entry_cmp);
	text_write(m, base, &t[OUT_TEXT]);
	if ((r = t[OUT_TEXT].err) < 0 || (r = json_write(m, base, &t[OUT_JSON])) < 0 ||
	    (r = sbom_write(m, &t[OUT_SBOM])) < 0)
		return log_errno(r, "cannot write the manifest");
	for (int k = 0; k < OUT_N; k++) {
		r = outfile_write(&out[k], t[k].s, t[k].len);
		if (r < 0)
			return log_errno(r, "cannot write '%s'", out[k].part);
	}
	/* All three or none. */
	for (int k = 0; k < OUT_N; k++) {
		r = outfile_commit(&out[k]);
		if (r < 0) {
			for (int j = 0; j < k; j++)
				unlink(out[j].path);
			return log_errno(r, "cannot write '%s'", out[k].path);
		}
	}
	return 0;
}

static int outputs_open(struct manifest *m, struct outfile out[static OUT_N])
{
	_cleanup_(freep) char *copy = strdup(arg_image);
	const char *dir = arg_out_dir ? arg_out_dir : copy ? dirname(copy) : ".";
	int r;

	if (arg_name)
		snprintf(m->name, sizeof(m->name), "%s", arg_name);
	else {
		_cleanup_(freep) char *c2 = strdup(arg_image);
		const char *b = c2 ? basename(c2) : "image";
		size_t len = strlen(b);
		if (len > 4 && strcmp(b + len - 4, ".img") == 0)
			len -= 4;
		snprintf(m->name, sizeof(m->name), "%.*s", (int)len, b);
	}
	for (int k = 0; k < OUT_N; k++) {
		_cleanup_(freep) char *path = NULL;

		if (asprintf(&path, "%s/%s%s", dir, m->name, out_suffix[k]) < 0) {
			path = NULL;
			return log_errno(ENOMEM, "cannot write the manifest");
		}
		if (k == OUT_TEXT)
			snprintf(m->path, sizeof(m->path), "%s", path);
		r = outfile_open(&out[k], path, true);
		if (r < 0)
			return log_errno(r, "cannot create '%s'", out[k].part ? out[k].part : path);
	}
	return 0;
}

static void outputs_abort(struct outfile (*out)[OUT_N])
{
	for (int k = 0; k < OUT_N; k++)
		outfile_abort(&(*out)[k]);
}

static int run(void)
{
	_cleanup_(manifest_free) struct manifest m = { .fd = -1 };
	_cleanup_(outputs_abort) struct outfile out[OUT_N] = { OUTFILE_INIT, OUTFILE_INIT, OUTFILE_INIT };
	_cleanup_(closep) int fd = -1;
	off_t end;

	if (info_read(&m) < 0 || date_set(&m) < 0)
		return EXIT_FAILED;
	fd = open(arg_image, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_errno(errno, "cannot open '%s'", arg_image);
		return EXIT_FAILED;
	}
	m.fd = fd;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		log_errno(errno, "cannot read '%s'", arg_image);
		return EXIT_FAILED;
	}
	m.size = (uint64_t)end;
	if (!command_exists("debugfs")) {
		log_error("cannot read '%s': debugfs is not installed (e2fsprogs)", arg_image);
		return EXIT_FAILED;
	}
	if (outputs_open(&m, out) < 0)
		return EXIT_FAILED;

	if (image_inspect(&m) < 0 || packages_read(&m) < 0 || os_release_read(&m) < 0 ||
	    licenses_read(&m) < 0 || kernel_find(&m) < 0 || image_hash(&m) < 0 ||
	    outputs_write(&m, out) < 0)
		return EXIT_FAILED;
	log_notice("%s: %zu packages, kernel %s (%s)", m.path, m.n_pkgs,
		   m.kernel[0] ? m.kernel : "unknown", m.kernel_rule ? m.kernel_rule : "not found");
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... IMAGE\n"
	       "Write NAME.manifest, NAME.manifest.json and the SBOM NAME.cdx.json (CycloneDX\n"
	       "1.6): the packages installed in the disk image IMAGE with their sources,\n"
	       "suites and licenses, the kernel that boots, the recipe's variables, downloads\n"
	       "and overlays' files, the build date and the version of rt-image-kit.\n\n"
	       "  -i, --info=FILE       recipe facts, one a line: 'var NAME=VALUE',\n"
	       "                        'build NAME=VALUE', 'download SHA256 URL', 'suite\n"
	       "                        NAME ARCH VERSION SUITE', 'archive SUITE URL' or\n"
	       "                        'file SHA256 OVERLAY PATH'; '#' starts a comment\n"
	       "  -p, --partition=N     the root filesystem is in partition N\n"
	       "                        (default: the last ext2/3/4 partition)\n"
	       "  -o, --out-dir=DIR     write the manifests into DIR (default: IMAGE's directory)\n"
	       "  -n, --name=NAME       name them NAME.manifest* (default: IMAGE without .img)\n"
	       "  -q, --quiet           only the summary and errors\n"
	       "  -v, --verbose         say more\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n\n"
	       "The image is read in place with debugfs and mtools: no root, no loop device.\n"
	       "The build date is SOURCE_DATE_EPOCH when it is set.\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "info", required_argument, NULL, 'i' },
		{ "partition", required_argument, NULL, 'p' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "i:p:o:n:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'i':
			arg_info = optarg;
			break;
		case 'p':
			if (cli_partition(optarg, &arg_partition) < 0)
				return -EINVAL;
			break;
		case 'o':
			arg_out_dir = optarg;
			break;
		case 'n':
			if (!*optarg || strchr(optarg, '/') || strcmp(optarg, ".") == 0 ||
			    strcmp(optarg, "..") == 0 || strlen(optarg) > NAME_MAX - 20) {
				log_error("--name wants a file name without '/', not '%s'", optarg);
				return -EINVAL;
			}
			arg_name = optarg;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (cli_operand(argc, argv, "no image given", &arg_image) < 0)
		return -EINVAL;
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
