/* SigV4's canonical request (lib/deploy/sigv4.c) of any path, query and headers:
 * the first line of the input is the URL's path and query, the others are
 * headers. Signing either works or is refused with a message; the canonical path
 * (S3's aside) and query hold only the unreserved characters, '%XX', '/', '=' and
 * '&'; the query is the same once its own output is signed again; the signature
 * never holds the secret. */
#include <stdlib.h>
#include <string.h>

#include "deploy/sigv4.h"
#include "fuzzutil.h"
#include "util/alloc.h"

static int encoded(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c) || strchr(extra, c))
			continue;
		if (c != '%' || i + 2 >= n + 0 || !strchr("0123456789ABCDEF", s[i + 1]) ||
		    !strchr("0123456789ABCDEF", s[i + 2]) || !s[i + 1] || !s[i + 2])
			return 0;
		i += 2;
	}
	return 1;
}

/* The canonical request's lines 2 (path) and 3 (query). */
static void lines(const char *creq, const char **path, size_t *plen, const char **q, size_t *qlen)
{
	*path = strchr(creq, '\n') + 1;
	*plen = strcspn(*path, "\n");
	*q = *path + *plen + 1;
	*qlen = strcspn(*q, "\n");
}

static void check(char *text, int s3, const uint8_t *data, size_t size)
{
	struct ml_sigv4_params p = { .region = "us-east-1", .service = "svc", .now = 1, .s3 = s3 };
	struct ml_aws_credentials c = { .access_key_id = "AKID",
					.secret_access_key = "SECRETSECRETSECRET" };
	char *nl = strchr(text, '\n'), *url, *again = NULL, **out = NULL;
	const char *hs[16], *path, *q;
	size_t nh = 0, plen, qlen, nout = 0;
	struct ml_buf creq = ML_BUF_INIT, creq2 = ML_BUF_INIT;
	struct ml_error err = { 0, "" };
	struct ml_rest_sign req;

	if (nl)
		*nl++ = 0;
	while (nl && *nl && nh < 16) {
		hs[nh++] = nl;
		nl = strchr(nl, '\n');
		if (nl)
			*nl++ = 0;
	}
	url = ml_asprintf("https://h.example/%s", text);
	req = (struct ml_rest_sign){ "GET", url, hs, nh, NULL, 0 };
	if (ml_sigv4_canonical_request(&p, &req, &creq, &err) < 0) {
		if (!err.code || !err.msg[0])
			fuzz_fail("a refusal without a message", data, size);
		goto out;
	}
	lines(ml_buf_str(&creq), &path, &plen, &q, &qlen);
	if ((!s3 && !encoded(path, plen, "/")) || !encoded(q, qlen, "=&"))
		fuzz_fail("a canonical path or query not encoded", data, size);
	again = ml_asprintf("https://h.example/?%.*s", (int)qlen, q);
	req.url = again;
	req.nheaders = 0;
	if (ml_sigv4_canonical_request(&p, &req, &creq2, &err) < 0)
		fuzz_fail("the canonical query refused when signed again", data, size);
	lines(ml_buf_str(&creq2), &path, &plen, &path, &plen);
	if (plen != qlen || memcmp(path, q, qlen))
		fuzz_fail("the canonical query changes when signed again", data, size);
	req.url = url;
	req.nheaders = nh;
	if (ml_sigv4_sign(&p, &c, &req, &out, &nout, &err) == 0) {
		size_t i;

		for (i = 0; i < nout; i++)
			if (strstr(out[i], "SECRETSECRET"))
				fuzz_fail("the secret in a signed header", data, size);
		ml_free_secrets(out, nout);
	}
out:
	ml_buf_dispose(&creq);
	ml_buf_dispose(&creq2);
	free(url);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = fuzz_strndup(data, size), *b = fuzz_strndup(data, size);

	check(a, 0, data, size);
	check(b, 1, data, size);
	free(a);
	free(b);
	return 0;
}
