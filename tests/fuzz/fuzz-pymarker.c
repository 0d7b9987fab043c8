/* PEP 508 markers, PEP 440 versions and specifiers. The input is a marker; its
 * first line is also tried as a specifier against the second as a version. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "python/pyver.h"

static const struct ml_pyenv linux311 = {
	"3.11", "3.11.2", "cpython", "3.11.2", "CPython", "posix", "linux", "Linux", "x86_64",
	"6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1",
};

/* A marker that evaluates is one that ml_pydep_parse accepts after ';'. */
static void check_marker(const char *s, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_pydep d;
	char *dep;
	int v, parsed;

	v = ml_pymarker_eval(s, &linux311, "test", &err);
	if (v < 0 && (err.code != ML_ECONFIG || !err.msg[0]))
		fuzz_fail("marker refused without a message", data, size);
	if (v > 1)
		fuzz_fail("marker value other than 0 or 1", data, size);
	dep = malloc(strlen(s) + 8);
	if (!dep)
		abort();
	strcpy(dep, "x==1 ; ");
	strcat(dep, s);
	parsed = ml_pydep_parse(dep, &d, NULL, &err) == 0;
	if (v >= 0 && !parsed)
		fuzz_fail("a marker that evaluates does not parse in a requirement", data, size);
	if (parsed && !d.marker && strspn(s, " \t\n\r\f\v") != strlen(s))
		fuzz_fail("requirement lost its marker", data, size);
	ml_pydep_dispose(&d);
	free(dep);
}

static void check_version(const char *v, const uint8_t *data, size_t size)
{
	char *n = ml_pyver_normalize(v), *n2;

	if (!n) {
		if (ml_pyver_valid(v))
			fuzz_fail("valid version does not normalize", data, size);
		return;
	}
	n2 = ml_pyver_normalize(n);
	if (!n2 || strcmp(n, n2))
		fuzz_fail("normalized version does not normalize to itself", data, size);
	if (ml_pyver_cmp(v, n) || ml_pyver_cmp(n, v))
		fuzz_fail("version differs from its normalized form", data, size);
	free(n);
	free(n2);
}

static void check_spec(const char *spec, const char *v, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	int m = ml_pyspec_match(spec, v, &err);

	if (m > 1 || (m < 0 && (err.code != ML_ECONFIG || !err.msg[0])))
		fuzz_fail("specifier match out of range or without a message", data, size);
	if (ml_pyver_cmp(spec, v) != -ml_pyver_cmp(v, spec))
		fuzz_fail("ml_pyver_cmp is not antisymmetric", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), *nl;

	check_marker(s, data, size);
	nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		check_version(nl + 1, data, size);
		check_spec(s, nl + 1, data, size);
	}
	check_version(s, data, size);
	free(s);
	return 0;
}
