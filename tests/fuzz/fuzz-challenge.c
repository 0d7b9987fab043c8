/* WWW-Authenticate headers as registries send them (the first challenge is used). */
#include <stdlib.h>

#include "registry/auth.h"
#include "fuzzutil.h"

static int is_lower(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_challenge c;
	char *header = fuzz_strndup(data, size);

	if (ml_challenge_parse(&c, header, &err) == 0) {
		if (!c.scheme || !c.scheme[0] || !is_lower(c.scheme))
			fuzz_fail("parsed challenge without a lower-case scheme", data, size);
		ml_challenge_dispose(&c);
	} else if (err.code != ML_EPROTO || c.scheme || c.realm) {
		fuzz_fail("failed parse left state or no error", data, size);
	}
	free(header);
	return 0;
}
