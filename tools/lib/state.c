/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "loop.h"

bool state_value_ok(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The keys the tools write; anything else is not ours. */
static bool key_known(const char *key)
{
	static const char *const keys[] = { "id", "image", "image_id", "created", "loop", "root", "mount" };
	const char *p;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	if (strncmp(key, "part", 4) != 0 || key[4] < '1' || key[4] > '9')
		return false;
	for (p = key + 5; *p >= '0' && *p <= '9'; p++)
		;
	return *p == 0 && p - key <= 7;
}

int state_add(struct state *s, const char *key, const char *value)
{
	struct state_item *items;

	/* A value is one line: a newline in it would be read back as a line
	 * of its own, one the tools never wrote. */
	if (!key_known(key) || !state_value_ok(value))
		return -EINVAL;
	items = realloc(s->items, (s->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	s->items = items;
	items[s->n].key = strdup(key);
	items[s->n].value = strdup(value);
	if (!items[s->n].key || !items[s->n].value) {
		free(items[s->n].key);
		free(items[s->n].value);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

int state_read(struct state *s, const char *path)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	*s = (struct state)STATE_INIT;
	s->path = strdup(path);
	if (!s->path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		char *eq;

		s->line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq || eq == line || strlen(line) != (size_t)len) {
			r = -EBADMSG;
			break;
		}
		*eq = 0;
		r = state_add(s, line, eq + 1);
		if (r == -EINVAL)
			r = -EBADMSG;
	}
	if (r == 0)
		s->line = 0;
	free(line);
	fclose(f);
	return r;
}

const char *state_get(const struct state *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].key, key) == 0)
			return s->items[i].value;
	return NULL;
}

int state_set(struct state *s, const char *key, const char *value)
{
	if (!state_value_ok(value))
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].key, key) == 0) {
			char *v = strdup(value);
			if (!v)
				return -ENOMEM;
			free(s->items[i].value);
			s->items[i].value = v;
			return 0;
		}
	return state_add(s, key, value);
}

void state_unset(struct state *s, const char *key)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->items[i].key, key) == 0) {
			free(s->items[i].key);
			free(s->items[i].value);
		} else
			s->items[j++] = s->items[i];
	}
	s->n = j;
}

bool state_attached(const struct state *s)
{
	const char *loop = state_get(s, "loop"), *id = state_get(s, "image_id");
	_cleanup_(closep) int fd = -1;
	struct stat st = { 0 };
	uintmax_t dev, ino;

	if (!loop || !id || sscanf(id, "%ju:%ju", &dev, &ino) != 2)
		return false;
	st.st_dev = (dev_t)dev;
	st.st_ino = (ino_t)ino;
	fd = open(loop, O_RDONLY | O_CLOEXEC);
	return fd >= 0 && loop_backs(fd, &st, 0);
}

void state_truncate(struct state *s, size_t n)
{
	while (s->n > n) {
		s->n--;
		free(s->items[s->n].key);
		free(s->items[s->n].value);
	}
}

int state_write(const struct state *s)
{
	_cleanup_(freep) char *tmp = NULL;
	FILE *f;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.XXXXXX", s->path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fputs("# rt-image-kit state: written by img-loop and img-mount, read by img-umount\n", f);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s=%s\n", s->items[i].key, s->items[i].value);
	if (fflush(f) != 0 || fsync(fd) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && fchmodat(AT_FDCWD, tmp, 0644, 0) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, s->path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int state_remove(const struct state *s)
{
	return unlink(s->path) < 0 && errno != ENOENT ? -errno : 0;
}

void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].key);
		free(s->items[i].value);
	}
	free(s->items);
	free(s->path);
	*s = (struct state)STATE_INIT;
}

int state_load(struct state *s, const char *path)
{
	int r = state_read(s, path);

	if (r == -EBADMSG)
		log_error("'%s' line %zu is not a state line; not guessing what it means", path, s->line);
	else if (r < 0 && r != -ENOENT)
		log_errno(r, "cannot read '%s'", path);
	return r;
}
