/* SPDX-License-Identifier: MIT */
/*
 * Paths inside an image, resolved as if the image's root were "/": absolute
 * symlinks and ".." never leave it (openat2 with RESOLVE_IN_ROOT). This is
 * what keeps a hostile image from making the host write outside it.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>

/* openat2(rootfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
 * Returns an fd or -errno. */
int resolve_open(int rootfd, const char *path, int flags, unsigned mode);

/* Opens directory path inside root (O_PATH), creating what is missing with
 * mode 0755, like mkdir -p. A dangling symlink on the way is followed inside
 * the root and its target created. Returns an fd or -errno (-ENOTDIR if
 * something on the way is not a directory). */
int resolve_mkdir_p(int rootfd, const char *path);

/* openat2(dirfd, path, flags | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS):
 * for the host's own trees (a download cache, a build directory) that
 * something else may have written to. No symlink is followed, not even the
 * last component (-ELOOP), and nothing above dirfd is reached (-EXDEV).
 * Returns an fd or -errno. */
int beneath_open(int dirfd, const char *path, int flags, unsigned mode);

/* Opens directory path below dirfd (O_RDONLY, so that it can be fsync'ed),
 * creating what is missing with mode 0755, following no symlink: a symlink
 * on the way is -ELOOP. Returns an fd or -errno. */
int beneath_mkdir_p(int dirfd, const char *path);

/* Removes name from dirfd, a file or a whole tree, without following any
 * symlink: what a container wrote into a directory of the host's. 0 (also
 * when name does not exist), or -errno. */
int beneath_remove(int dirfd, const char *name);

/* True if path is dir or lies below it, by their text: "/x" is under "/",
 * "/xy" is not under "/x". */
bool path_under(const char *path, const char *dir);

/* Where fd lies on the host (from /proc/self/fd), which must be root or
 * below it: -EXDEV otherwise. 0 or -errno. */
int resolve_fd_path(int fd, const char *root, char out[static PATH_MAX]);

/* The same as a path from the image's "/": root itself is "/". */
int resolve_fd_image_path(int fd, const char *root, char out[static PATH_MAX]);

/* Absolute, without "." or ".." components. */
bool path_plain(const char *p);

/* Resolves "." and ".." in an absolute path by its text alone. */
void path_normalize(const char *in, char out[static PATH_MAX]);
