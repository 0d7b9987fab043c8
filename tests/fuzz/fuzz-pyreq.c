/* requirements.txt: lines, continuations, options, PEP 508 requirements and
 * markers. What parses is a complete pinned set; what fails says where. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "python/pyreq.h"

static const struct ml_pyenv linux311 = {
	"3.11", "3.11.2", "cpython", "3.11.2", "CPython", "posix", "linux", "Linux", "x86_64",
	"6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1",
};

static int is_hash(const char *h)
{
	size_t i;

	if (strncmp(h, "sha256:", 7) || strlen(h) != 7 + 64)
		return 0;
	for (i = 7; h[i]; i++)
		if (!strchr("0123456789abcdef", h[i]))
			return 0;
	return 1;
}

static void check(const struct ml_pyenv *env, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_pyreqs r;
	size_t i, j;

	if (ml_pyreqs_parse("r.txt", (const char *)data, size, env, &r, &err) < 0) {
		if (err.code != ML_ECONFIG || strncmp(err.msg, "r.txt:", 6) || r.v || r.path)
			fuzz_fail("failed parse without a located error or with state left", data,
				  size);
		return;
	}
	for (i = 0; i < r.n; i++) {
		const struct ml_pyreq *q = &r.v[i];

		if (!q->name || !ml_pyname_valid(q->name) || !q->normalized || !q->version ||
		    !q->version[0] || q->line < 1 || q->column < 1)
			fuzz_fail("incomplete requirement", data, size);
		for (j = 0; j < q->nhashes; j++)
			if (!is_hash(q->hashes[j]))
				fuzz_fail("malformed hash kept", data, size);
		if (env && q->marker && ml_pymarker_eval(q->marker, env, NULL, &err) != 1)
			fuzz_fail("kept a requirement whose marker is not true", data, size);
		for (j = 0; j < i; j++)
			if (env && !strcmp(r.v[j].normalized, q->normalized))
				fuzz_fail("a project kept twice", data, size);
	}
	ml_pyreqs_dispose(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(&linux311, data, size);
	check(NULL, data, size);
	return 0;
}
