/* JSON from registries and token servers: parse, then the canonical dump, which
 * must be a fixed point (parsing the dump and dumping again gives the same bytes). */
#include <string.h>

#include "util/buf.h"
#include "fuzzutil.h"
#include "wrap/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_buf once = ML_BUF_INIT, twice = ML_BUF_INIT;
	ml_json *v, *again = NULL;

	v = ml_json_parse((const char *)data, size, &err);
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
