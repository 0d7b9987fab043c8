/* deploy.yaml: libyaml events, the schema walk, ${VAR} expansion, the providers'
 * deploy.<name> sections, and the JSON of `mldeploy validate --json`. */
#include <stdlib.h>

#include "util/buf.h"
#include "config/config.h"
#include "config/section.h"
#include "fuzzutil.h"
#include "providers.h"
#include "wrap/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Variables the seed corpus and mldeploy.yaml(5) refer to, plus one set but
 * empty, one whose value looks like a reference (it must not be expanded
 * again) and one long enough that a few hundred references reach the cap on
 * a value's length. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char long_value[4097];
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i + 1 < sizeof(long_value); i++)
		long_value[i] = (char)('a' + i % 26);
	setenv("GOOGLE_CLOUD_PROJECT", "my-proj", 1);
	setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000", 1);
	setenv("REGION", "us-east1", 1);
	setenv("PORT", "8080", 1);
	setenv("FUZZ_EMPTY", "", 1);
	setenv("FUZZ_NESTED", "${GOOGLE_CLOUD_PROJECT}:-$$}", 1);
	setenv("FUZZ_LONG", long_value, 1);
	unsetenv("FUZZ_UNSET");
	unsetenv("PYTHON_VERSION");
	ml_config_set_provider_hooks(&ml_providers_config_hooks);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_tmp_path("deploy.yaml");
	struct ml_error err = { 0, "" };
	struct ml_buf out = ML_BUF_INIT;
	struct ml_config *cfg = NULL;
	ml_json *json;

	fuzz_write_file(path, data, size);
	if (ml_config_load(&cfg, path, NULL, &err) < 0) {
		if (!err.code || !err.msg[0])
			fuzz_fail("ml_config_load failed without an error message", data, size);
		return 0;
	}
	json = ml_config_to_json(cfg);
	if (!json || ml_json_dump(json, &out) < 0)
		fuzz_fail("ml_config_to_json/ml_json_dump failed on a loaded config", data, size);
	ml_buf_dispose(&out);
	ml_json_free(json);
	ml_config_free(cfg);
	return 0;
}
