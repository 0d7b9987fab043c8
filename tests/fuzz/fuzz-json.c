/* JSON from registries and token servers: parse, then the canonical dump, which
 * must be a fixed point (parsing the dump and dumping again gives the same bytes);
 * the secret parse agrees with the plain one and quotes nothing. */
#include <string.h>

#include "util/buf.h"
#include "fuzzutil.h"
#include "wrap/json.h"

/* The secret parse accepts what the plain one does and reports the same place,
 * never jansson's "near '...'" quote of the input. */
static void check_secret_parse(const uint8_t *data, size_t size, const ml_json *plain,
			       const struct ml_error *plain_err)
{
	struct ml_error err = { 0, "" };
	ml_json *v = ml_json_parse_secret((const char *)data, size, &err);
	const char *sep = plain ? NULL : strstr(plain_err->msg, ": ");

	if (!v != !plain)
		fuzz_fail("ml_json_parse_secret and ml_json_parse disagree", data, size);
	if (!v && (!sep || strncmp(err.msg, plain_err->msg, (size_t)(sep - plain_err->msg)) ||
		   strstr(err.msg, " near ")))
		fuzz_fail("ml_json_parse_secret's message quotes the input or moved", data, size);
	ml_json_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_buf once = ML_BUF_INIT, twice = ML_BUF_INIT;
	ml_json *v, *again = NULL;

	v = ml_json_parse((const char *)data, size, &err);
	check_secret_parse(data, size, v, &err);
	if (!v) {
		if (err.code != ML_EPROTO || !err.msg[0])
			fuzz_fail("ml_json_parse failed without an error", data, size);
		return 0;
	}
	if (ml_json_dump(v, &once) < 0)
		fuzz_fail("ml_json_dump failed", data, size);
	again = ml_json_parse(once.data, once.len, &err);
	if (!again)
		fuzz_fail("the dump does not parse again", data, size);
	if (ml_json_dump(again, &twice) < 0 || once.len != twice.len ||
	    memcmp(once.data, twice.data, once.len))
		fuzz_fail("dumping the parsed dump gives other bytes", data, size);
	ml_buf_dispose(&once);
	ml_buf_dispose(&twice);
	ml_json_free(again);
	ml_json_free(v);
	return 0;
}
