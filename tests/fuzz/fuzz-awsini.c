/* The AWS shared config and credentials files (providers/aws/awsprofile.c), read
 * as either file. A refused file is an error naming the file and a line, never a
 * byte of the input after it; an accepted one has sections with trimmed,
 * non-empty names, and keys that are lower-case, trimmed and unique per section,
 * each findable by lookup. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsauth-internal.h"
#include "fuzzutil.h"

static void check_section(const struct ml_aws_section *s, const uint8_t *data, size_t size)
{
	size_t i, j, n = strlen(s->name);

	if (!n || isspace((unsigned char)s->name[0]) || isspace((unsigned char)s->name[n - 1]))
		fuzz_fail("a section name empty or not trimmed", data, size);
	for (i = 0; i < s->nkv; i++) {
		const char *k = s->kv[i].key, *v = s->kv[i].value;

		if (!k[0] || isspace((unsigned char)k[0]) || isspace((unsigned char)k[strlen(k) - 1]))
			fuzz_fail("a key empty or not trimmed", data, size);
		for (j = 0; k[j]; j++)
			if (isupper((unsigned char)k[j]))
				fuzz_fail("a key not in lower case", data, size);
		if (v[0] && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[strlen(v) - 1])))
			fuzz_fail("a value not trimmed", data, size);
		for (j = 0; j < i; j++)
			if (!strcmp(s->kv[j].key, k))
				fuzz_fail("a key twice in one section", data, size);
		if (ml_aws_section_get(s, k) != v)
			fuzz_fail("a key lookup does not find the key", data, size);
		if (s->kv[i].line < 1)
			fuzz_fail("a key without its line", data, size);
	}
}

static void check(const uint8_t *data, size_t size, int config_file)
{
	struct ml_error err = { 0, "" };
	struct ml_aws_ini ini;
	size_t i;

	if (ml_aws_ini_parse(&ini, "f", (const char *)data, size, config_file, &err) < 0) {
		if (err.code != ML_EAUTH || strncmp(err.msg, "f:", 2) ||
		    !isdigit((unsigned char)err.msg[2]))
			fuzz_fail("a refusal without the file and line", data, size);
		ml_aws_ini_dispose(&ini);
		return;
	}
	for (i = 0; i < ini.nsec; i++) {
		check_section(&ini.sec[i], data, size);
		if (ini.sec[i].is_profile && ml_aws_ini_section(&ini, ini.sec[i].name) != &ini.sec[i])
			fuzz_fail("a profile twice, or not found by name", data, size);
	}
	ml_aws_ini_dispose(&ini);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 1);
	check(data, size, 0);
	return 0;
}
