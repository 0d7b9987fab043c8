/* A package index's project page (PEP 503 HTML, PEP 691 JSON): the first input
 * byte picks the format. Every file kept is a wheel of the project, with an
 * absolute http(s) URL without a fragment and a well-formed sha256 if any. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "python/pyindex.h"
#include "python/pytags.h"

static int is_hex64(const char *h)
{
	size_t i;

	if (strlen(h) != 64)
		return 0;
	for (i = 0; h[i]; i++)
		if (!strchr("0123456789abcdef", h[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "text/html", "application/vnd.pypi.simple.v1+json" };
	struct ml_error err = { 0, "" };
	struct ml_pyfile *files = NULL;
	size_t n = 0, i;
	char *body;

	if (!size)
		return 0;
	body = malloc(size);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	if (ml_pyindex_parse_page("https://index.example/simple/mlpure/", types[data[0] & 1], body,
				  size - 1, "mlpure", &files, &n, &err) < 0) {
		if (!err.msg[0])
			fuzz_fail("failed without a message", data, size);
		free(body);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct ml_wheelname w;

		if (!files[i].filename || !files[i].url || files[i].path ||
		    (strncmp(files[i].url, "https://", 8) && strncmp(files[i].url, "http://", 7)) ||
		    strchr(files[i].url, '#'))
			fuzz_fail("a file without a proper URL", data, size);
		if (files[i].sha256 && !is_hex64(files[i].sha256))
			fuzz_fail("a malformed sha256 kept", data, size);
		if (ml_wheelname_parse(files[i].filename, &w, NULL) < 0)
			fuzz_fail("a file that is not a wheel kept", data, size);
		if (strcmp(w.normalized, "mlpure"))
			fuzz_fail("a wheel of another project kept", data, size);
		ml_wheelname_dispose(&w);
	}
	ml_pyfiles_free(files, n);
	free(body);
	return 0;
}
