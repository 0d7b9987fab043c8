/* Google Cloud: Cloud Run or App Engine flexible. */
#ifndef ML_PROVIDER_GCP_H
#define ML_PROVIDER_GCP_H

#include "provider.h"

/* deploy.gcp */
struct ml_gcp_conf {
	char *project;
	char *region;		/* NULL when unset */
	char *target;		/* one of ml_gcp_targets; default "cloudrun" */
	int allow_unauthenticated;
	char *cpu, *memory;	/* NULL when unset */
	int min_instances;	/* default 0 */
	int max_instances;	/* -1 when unset */
	struct ml_pos pos;
};

extern const char *const ml_gcp_targets[];	/* "cloudrun", "appengine" */
extern const char *const ml_gcp_config_keys[];
int ml_gcp_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_gcp_config_free(void *conf);
ml_json *ml_gcp_config_json(const void *conf);

extern const struct ml_provider ml_provider_gcp;

#endif
