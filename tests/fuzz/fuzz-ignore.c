/* .dockerignore lines. Each input line is a pattern; the lines and a few fixed
 * paths are then matched. Patterns added last must win whatever came before. */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "image/ignore.h"

/* Lines also matched as paths: every pattern is tried on every path, so the cost
 * grows with the square of the number of lines. */
#define PATH_LINES 32

static const char *const fixed_paths[] = {
	"", ".", "app", "app/main.py", "app/__pycache__/x.pyc", ".git", ".git/HEAD",
	"model.pkl", "data/train/part-0001.csv", "a/b/c/d/e/f", ".env", "dir/",
	"\xc3\xa9t\xc3\xa9/x", NULL,
};

static void match_all(const struct ml_ignore *ig, const char *path)
{
	ml_ignore_match(ig, path, 0);
	ml_ignore_match(ig, path, 1);
	ml_ignore_may_reinclude(ig, path);
}

/* "zzfuzz" cannot come from an earlier line winning: it is added last. */
static void check_last_wins(struct ml_ignore *ig, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };

	if (ml_ignore_add(ig, "zzfuzz", "fuzz", &err) < 0 ||
	    ml_ignore_add(ig, "!zzfuzz/keep", "fuzz", &err) < 0)
		fuzz_fail("fixed patterns refused", data, size);
	if (!ml_ignore_match(ig, "zzfuzz", 1) || !ml_ignore_match(ig, "zzfuzz/sub/x", 0))
		fuzz_fail("the last pattern does not exclude its path or what is below", data, size);
	if (ml_ignore_match(ig, "zzfuzz/keep", 0))
		fuzz_fail("a final '!' pattern does not re-include", data, size);
	if (!ml_ignore_may_reinclude(ig, "zzfuzz"))
		fuzz_fail("may_reinclude misses a '!' pattern below the directory", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_ignore *ig = ml_ignore_new();
	struct ml_error err = { 0, "" };
	char *text = fuzz_strndup(data, size), *line, *next;
	size_t i, nlines = 0;

	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (ml_ignore_add(ig, line, ".dockerignore:1", &err) < 0 &&
		    (err.code != ML_ECONFIG || !err.msg[0]))
			fuzz_fail("pattern refused without an error", data, size);
		nlines++;
	}
	for (i = 0; fixed_paths[i]; i++)
		match_all(ig, fixed_paths[i]);
	for (line = text, i = 0; i < nlines && i < PATH_LINES; i++) {
		match_all(ig, line);
		line += strlen(line) + 1;
	}
	check_last_wins(ig, data, size);
	ml_ignore_free(ig);
	free(text);
	return 0;
}
