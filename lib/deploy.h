/* `mldeploy deploy`, `status`, `rollback`, `destroy`, `render` and `run`: the
 * pipeline that prepares the image (build into the cache, push from there when the
 * provider runs images from a registry) and drives one provider through the same
 * plan that --dry-run prints. The health-gated release lives here, once. */
#ifndef ML_DEPLOY_PIPELINE_H
#define ML_DEPLOY_PIPELINE_H

#include "config/config.h"
#include "deploy/plan.h"
#include "provider.h"
#include "util/buf.h"
#include "util/error.h"

enum ml_deploy_op {
	ML_OP_DEPLOY, ML_OP_STATUS, ML_OP_ROLLBACK, ML_OP_DESTROY, ML_OP_RENDER, ML_OP_RUN,
};

struct ml_deploy_opts {
	enum ml_deploy_op op;
	const struct ml_config *cfg;
	const struct ml_provider *provider;
	const char *target;		/* NULL: the provider's first */
	struct ml_deploy_request req;	/* the flags; the image fields are filled here */
	const char *render_file;	/* ML_OP_RENDER */
	struct ml_buf *render_out;
	const struct ml_run_opts *run;	/* ML_OP_RUN */
	volatile int *interrupted;
	int verbose;
};

/* Runs o->op. plan (initialised by the caller) receives the plan of a deploy;
 * with req.dry_run nothing that changes anything is done (the image is built
 * into the local cache, not pushed). res is initialised by the caller. */
int ml_deploy_run(const struct ml_deploy_opts *o, struct ml_deploy_result *res,
		  struct ml_plan *plan, struct ml_error *err);

#endif
