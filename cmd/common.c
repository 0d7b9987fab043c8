#include "cmd.h"

int cmd_load_config(const struct global *g, struct ml_config **cfg, struct ml_error *err)
{
	return ml_config_load(cfg, g->file, NULL, err);
}
