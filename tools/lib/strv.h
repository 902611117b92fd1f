/* SPDX-License-Identifier: MIT */
/* A NULL-terminated, growing list of strings, as argv and envp want. */
#pragma once

#include <stddef.h>

struct strv {
	char **v; /* NULL until the first string */
	size_t n;
};

/* Appends a formatted string. 0 or -ENOMEM. */
int strv_add(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For _cleanup_: frees the strings and the list. */
void strv_freep(struct strv *s);

/* "a b c" in buf, cut short if it does not fit; returns buf. */
const char *strv_join(char **v, char *buf, size_t size);
