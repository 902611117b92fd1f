/* SPDX-License-Identifier: MIT */
/* For tests/size.bats: prints what size_parse makes of each argument,
 * "BYTES" or "+BYTES" or the error name, one line each. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "size.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		uint64_t v = 0;
		bool rel = false;
		int r = size_parse(argv[i], &v, &rel);

		if (r == 0)
			printf("%s%" PRIu64 "\n", rel ? "+" : "", v);
		else
			printf("%s\n", r == -EINVAL ? "EINVAL" : r == -ERANGE ? "ERANGE" : r == -EDOM ? "EDOM" : "?");
	}
	return 0;
}
