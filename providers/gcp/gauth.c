/* Placeholder until the credential chain lands: CLOUDSDK_AUTH_ACCESS_TOKEN only. */
#include "gcp/gauth.h"

#include <stdlib.h>

#include "util/alloc.h"

struct ml_gauth {
	char *token;
};

int ml_gauth_new(struct ml_gauth **out, const struct ml_config *cfg, struct ml_error *err)
{
	(void)cfg;
	(void)err;
	*out = ml_calloc(1, sizeof(**out));
	(*out)->token = ml_strdup(getenv("CLOUDSDK_AUTH_ACCESS_TOKEN"));
	return 0;
}

void ml_gauth_free(struct ml_gauth *g)
{
	if (g)
		ml_free_secret(g->token);
	free(g);
}

int ml_gauth_token(struct ml_gauth *g, char **token, struct ml_error *err)
{
	if (!g->token)
		return ml_error_set(err, ML_EAUTH, "no google credentials");
	*token = ml_strdup(g->token);
	return 0;
}

void ml_gauth_invalidate(struct ml_gauth *g)
{
	(void)g;
}

const char *ml_gauth_source(const struct ml_gauth *g)
{
	return g->token ? "CLOUDSDK_AUTH_ACCESS_TOKEN" : NULL;
}

const char *ml_gauth_project(const struct ml_gauth *g)
{
	(void)g;
	return NULL;
}

int ml_gauth_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		  struct ml_error *err)
{
	char *token = NULL;
	int rc;

	(void)req;
	rc = ml_gauth_token(ud, &token, err);
	if (rc < 0)
		return rc;
	*headers = ml_calloc(1, sizeof(**headers));
	(*headers)[0] = ml_asprintf("Authorization: Bearer %s", token);
	*nheaders = 1;
	ml_free_secret(token);
	return 0;
}
