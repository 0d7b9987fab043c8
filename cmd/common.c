#include <stdio.h>
#include <string.h>

#include "cmd.h"

int cmd_load_config(const struct global *g, struct ml_config **cfg, struct ml_error *err)
{
	int rc = ml_config_load(cfg, g->file, NULL, err);
	size_t len;

	/* a missing or unreadable deploy.yaml is a usage problem, not a failure */
	if (rc == -ML_EIO || rc == -ML_ENOTFOUND) {
		err->code = ML_ECONFIG;
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len,
			 " (hint: run where deploy.yaml is, or use -f FILE or -C DIR)");
		rc = -ML_ECONFIG;
	}
	return rc;
}
