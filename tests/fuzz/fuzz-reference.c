/* Image references. What ml_ref_string prints must parse back to the same fields. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "registry/reference.h"

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void check(const char *s, int allow_tag, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_ref ref, back;
	char *str;

	if (ml_ref_parse(&ref, s, allow_tag, &err) < 0) {
		if (err.code != ML_ECONFIG || ref.host || ref.repository)
			fuzz_fail("failed parse left state or no error", data, size);
		return;
	}
	if (!ref.host || !ref.repository || (!allow_tag && (ref.tag || ref.digest)))
		fuzz_fail("parsed reference is incomplete", data, size);
	str = ml_ref_string(&ref);
	if (ml_ref_parse(&back, str, allow_tag, &err) < 0)
		fuzz_fail("ml_ref_string output does not parse", data, size);
	if (!same(ref.host, back.host) || !same(ref.repository, back.repository) ||
	    !same(ref.tag, back.tag) || !same(ref.digest, back.digest))
		fuzz_fail("ml_ref_string output parses to another reference", data, size);
	ml_ref_dispose(&back);
	ml_ref_dispose(&ref);
	free(str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);

	check(s, 1, data, size);
	check(s, 0, data, size);
	free(s);
	return 0;
}
