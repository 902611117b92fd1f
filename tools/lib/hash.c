/* SPDX-License-Identifier: MIT */
#include "hash.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	h->ctx = ctx;
	return 0;
}

void sha256_update(struct sha256 *h, const void *buf, size_t len)
{
	EVP_DigestUpdate(h->ctx, buf, len);
}

int sha256_peek_hex(struct sha256 *h, char out[static SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_MD_CTX *copy = EVP_MD_CTX_new();

	/* Finalise a copy so the running hash can go on (416 handling). */
	if (!copy || !EVP_MD_CTX_copy_ex(copy, h->ctx) || !EVP_DigestFinal_ex(copy, md, &n)) {
		EVP_MD_CTX_free(copy);
		return -ENOMEM;
	}
	EVP_MD_CTX_free(copy);
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	return 0;
}

void sha256_free(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int sha256_add_fd(struct sha256 *h, int fd, uint64_t len)
{
	size_t bufsize = 1 << 20;
	unsigned char *buf = malloc(bufsize);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (off < len) {
		size_t want = len - off < bufsize ? (size_t)(len - off) : bufsize;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* shorter than it said */
			break;
		}
		sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return r;
}

bool sha256_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == SHA256_HEX_LEN;
}
