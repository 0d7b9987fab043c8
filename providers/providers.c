#include "providers.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "aws/aws.h"
#include "azure/azure.h"
#include "gcp/gcp.h"
#include "local/local.h"
#include "util/buf.h"

#define NPROVIDERS (sizeof(providers) / sizeof(providers[0]))
#define NAME_LISTS 16		/* different caps asked of ml_providers_names */

/* Listed explicitly: a provider missing here fails at link time, not at run time. */
static const struct ml_provider *const providers[] = {
	&ml_provider_dockerhub,
	&ml_provider_local,
	&ml_provider_gcp,
	&ml_provider_aws,
	&ml_provider_azure,
};

const struct ml_provider *ml_providers_find(const char *name)
{
	size_t i;

	for (i = 0; i < NPROVIDERS; i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

const char *const *ml_providers_names(unsigned caps)
{
	static struct {
		unsigned caps;
		const char *names[NPROVIDERS + 1];
	} lists[NAME_LISTS];
	static size_t nlists;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const char **names = NULL;
	size_t i, n = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nlists && !names; i++)
		if (lists[i].caps == caps)
			names = lists[i].names;
	if (!names) {
		if (nlists == NAME_LISTS)
			abort();	/* a new caller asks for more lists: raise NAME_LISTS */
		lists[nlists].caps = caps;
		names = lists[nlists++].names;
		for (i = 0; i < NPROVIDERS; i++)
			if ((providers[i]->caps & caps) == caps)
				names[n++] = providers[i]->name;
		names[n] = NULL;
	}
	pthread_mutex_unlock(&lock);
	return names;
}

const char *ml_providers_registry_endpoint(const char *host)
{
	size_t i;

	for (i = 0; i < NPROVIDERS; i++) {
		const char *ep;

		if (!(providers[i]->caps & ML_PROVIDER_REGISTRY))
			continue;
		ep = providers[i]->registry_endpoint(host);
		if (ep)
			return ep;
	}
	return NULL;
}

int ml_providers_registry_credential(const char *host, struct ml_credential *out,
				     struct ml_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < NPROVIDERS; i++) {
		if (!(providers[i]->caps & ML_PROVIDER_REGISTRY_AUTH))
			continue;
		rc = providers[i]->registry_auth(host, out, err);
		if (rc != 0)
			return rc;
	}
	return ml_auth_credential(host, out, err);
}

/* ---- deploy.yaml's deploy.<name> ---- */

static const struct ml_provider *config_provider(const char *name)
{
	const struct ml_provider *p = ml_providers_find(name);

	return p && (p->caps & ML_PROVIDER_CONFIG) ? p : NULL;
}

static const char *const *config_names(void)
{
	return ml_providers_names(ML_PROVIDER_CONFIG);
}

static const char *const *config_keys(const char *name)
{
	const struct ml_provider *p = config_provider(name);

	return p ? p->config_keys : NULL;
}

static int config_parse(const char *name, struct ml_config_section *s, void **conf,
			struct ml_error *err)
{
	const struct ml_provider *p = config_provider(name);

	if (!p)
		return ml_section_error(s, NULL, "no provider reads '%s'", ml_section_path(s));
	return p->config_parse(s, conf, err);
}

static void config_free(const char *name, void *conf)
{
	const struct ml_provider *p = config_provider(name);

	if (p)
		p->config_free(conf);
}

static ml_json *config_json(const char *name, const void *conf)
{
	const struct ml_provider *p = config_provider(name);

	return p ? p->config_json(conf) : NULL;
}

const struct ml_config_provider_hooks ml_providers_config_hooks = {
	.names = config_names,
	.keys = config_keys,
	.parse = config_parse,
	.free = config_free,
	.json = config_json,
};

static void join_names(struct ml_buf *b, const char *const *names)
{
	size_t i;

	for (i = 0; names[i]; i++)
		ml_buf_printf(b, "%s%s", i ? ", " : "", names[i]);
}

int ml_providers_pick(const struct ml_config *cfg, const char *name, unsigned caps,
		      const struct ml_provider **out, struct ml_error *err)
{
	const struct ml_provider *p;
	struct ml_buf able;
	int rc = 0;

	ml_buf_init(&able, 0);
	join_names(&able, ml_providers_names(caps));
	if (!name && cfg->ndeploy == 1) {
		name = cfg->deploy[0].name;
	} else if (!name) {
		struct ml_buf named;

		ml_buf_init(&named, 0);
		for (size_t i = 0; i < cfg->ndeploy; i++)
			ml_buf_printf(&named, "%s%s", i ? ", " : "", cfg->deploy[i].name);
		rc = cfg->ndeploy
			? ml_error_set(err, ML_EUSAGE, "%s names several providers (%s): choose one "
				       "with --provider", cfg->path, ml_buf_str(&named))
			: ml_error_set(err, ML_EUSAGE, "%s names no provider under deploy: choose one "
				       "with --provider (%s)", cfg->path, ml_buf_str(&able));
		ml_buf_dispose(&named);
		goto out;
	}
	p = ml_providers_find(name);
	if (!p || !(p->caps & (ML_PROVIDER_DEPLOY | ML_PROVIDER_RUN | ML_PROVIDER_CONFIG))) {
		rc = ml_error_set(err, ML_EUSAGE, "unknown provider '%s' (providers: %s)", name,
				  ml_buf_str(&able));
		goto out;
	}
	if ((p->caps & caps) != caps) {
		rc = ml_error_set(err, ML_EUSAGE, "provider '%s' cannot do this in this version of "
				  "mldeploy; providers that can: %s", name, ml_buf_str(&able));
		goto out;
	}
	*out = p;
out:
	ml_buf_dispose(&able);
	return rc;
}
