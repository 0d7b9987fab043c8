#include "azure/aci.h"

#include <stdlib.h>
#include <string.h>

#include "azure/acr.h"
#include "azure/azure.h"
#include "azure/entra.h"
#include "deploy/endpoint.h"
#include "deploy/health.h"
#include "deploy/poll.h"
#include "deploy/rest.h"
#include "registry/auth.h"
#include "registry/reference.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "wrap/digest.h"

#define ACI_API "2023-05-01"
#define GROUP_API "2021-04-01"
#define TAG_MANAGED "managed-by"
#define TAG_SETTINGS "mldeploy-settings"
#define TAG_DIGEST "mldeploy-digest"
#define TAG_IMAGE "mldeploy-image"
#define TAG_PREV_IMAGE "mldeploy-previous-image"
#define TAG_PREV_DIGEST "mldeploy-previous-digest"
#define OPERATION_TIMEOUT_S 900
#define HEALTH_TIMEOUT_S 120	/* the core's default, without --timeout */
#define HEALTH_SLICE_S 2	/* health attempts between two looks at the container */

struct aci {
	const struct ml_deploy_ctx *ctx;
	const struct ml_azure_conf *conf;
	struct ml_entra *entra;
	struct ml_rest *arm;
	char *subscription;
	char *group_path;	/* /subscriptions/S/resourceGroups/RG */
	char *cg_path;		/* .../providers/Microsoft.ContainerInstance/containerGroups/NAME */
	char *dns_label;
	char *scope;		/* the token scope of the Resource Manager in use ("BASE/.default") */
};

/* A resource whose deletion is awaited. */
struct gone {
	struct aci *a;
	const char *path, *api, *what;
};

/* What a plan found; deploy carries it out. */
struct aci_plan {
	int create_group;
	ml_json *group_body;	/* resource group, when created */
	ml_json *body;		/* the container group, secrets in it */
	char *digest, *image;
	int port;
	int recreate;		/* --recreate: delete the group when ARM cannot update it */
	int no_wait;		/* --no-wait: no health wait */
	long timeout_s;		/* --timeout of the health wait */
	char *previous_digest;	/* what ran before, when it was another image */
};

static void aci_plan_free(void *p)
{
	struct aci_plan *ap = p;

	ml_json_free(ap->group_body);
	ml_json_free(ap->body);
	free(ap->digest);
	free(ap->image);
	free(ap->previous_digest);
	free(ap);
}

static int sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		struct ml_error *err)
{
	struct aci *a = ud;
	char *token = NULL;
	int rc;

	(void)req;
	rc = ml_entra_token(a->entra, a->scope, &token, err);
	if (rc < 0)
		return rc;
	*headers = ml_calloc(1, sizeof(**headers));
	(*headers)[0] = ml_asprintf("Authorization: Bearer %s", token);
	*nheaders = 1;
	ml_free_secret(token);
	return 0;
}

/* Resource Manager refused the cached token (401): a new one, and the call again. */
static int unauthorized(void *ud, const struct ml_http_response *resp)
{
	struct aci *a = ud;

	(void)resp;
	ml_log(ML_LOG_INFO, "azure: the access token from %s was refused (HTTP 401): getting a "
	       "new one", ml_entra_source(a->entra));
	ml_entra_invalidate(a->entra, a->scope);
	return 1;
}

static const char *first_set(const char *a, const char *b)
{
	return a && *a ? a : b && *b ? b : NULL;
}

int ml_aci_init(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err)
{
	const struct ml_azure_conf *conf = ctx->conf;
	struct ml_rest_opts o = { .service = "Azure Resource Manager", .decode = ml_rest_decode_azure,
				  .sign = sign, .unauthorized = unauthorized };
	struct aci *a;
	char *base = NULL;
	const char *sub;
	int rc;

	if (!conf || !conf->resource_group)
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.azure.resource_group is required "
				    "(the resource group of the container group)", ctx->cfg->path);
	sub = first_set(conf->subscription, getenv("AZURE_SUBSCRIPTION_ID"));
	if (!sub)
		return ml_error_set(err, ML_ECONFIG, "%s: no Azure subscription: set "
				    "deploy.azure.subscription or AZURE_SUBSCRIPTION_ID", ctx->cfg->path);
	a = ml_calloc(1, sizeof(*a));
	a->ctx = ctx;
	a->conf = conf;
	a->subscription = ml_strdup(sub);
	a->dns_label = ml_strdup(conf->dns_label ? conf->dns_label : ctx->service);
	a->group_path = ml_asprintf("/subscriptions/%s/resourceGroups/%s", sub, conf->resource_group);
	a->cg_path = ml_asprintf("%s/providers/Microsoft.ContainerInstance/containerGroups/%s",
				 a->group_path, ctx->service);
	rc = ml_endpoint(&base, ctx->cfg, "ARM", "https://management.azure.com", err);
	if (rc == 0)
		rc = ml_entra_new(&a->entra, ctx->cfg, err);
	o.base_url = base;
	o.ud = a;
	/* sovereign clouds (management.chinacloudapi.cn, management.usgovcloudapi.net)
	 * take tokens for their own Resource Manager */
	if (base)
		a->scope = ml_asprintf("%.*s/.default", (int)strcspn(base + 8, "/") + 8, base);
	if (rc == 0)
		rc = ml_rest_new(&a->arm, &o, err);
	free(base);
	if (rc < 0) {
		ml_aci_cleanup(a);
		return rc;
	}
	*state = a;
	return 0;
}

void ml_aci_cleanup(void *state)
{
	struct aci *a = state;

	if (!a)
		return;
	ml_rest_free(a->arm);
	ml_entra_free(a->entra);
	free(a->subscription);
	free(a->group_path);
	free(a->cg_path);
	free(a->dns_label);
	free(a->scope);
	free(a);
}

int ml_aci_api_calls(void *state, int *mutations)
{
	struct aci *a = state;

	return ml_rest_calls(a->arm, mutations);
}

/* GET path?api-version=API; *out NULL when it does not exist. */
static int arm_get(struct aci *a, const char *path, const char *api, ml_json **out,
		   struct ml_error *err)
{
	struct ml_rest_result res;
	char *p = ml_asprintf("%s?api-version=%s", path, api);
	int rc = ml_rest_call(a->arm, "GET", p, NULL, ML_REST_ALLOW_404, &res, err);

	*out = rc == 0 && res.status != 404 ? ml_json_ref(res.body) : NULL;
	ml_rest_result_dispose(&res);
	free(p);
	return rc;
}

static const char *tag(const ml_json *resource, const char *key)
{
	return ml_json_get_str(ml_json_get(resource, "tags"), key);
}

static const ml_json *first_container(const ml_json *group)
{
	return ml_json_at(ml_json_get(ml_json_get(group, "properties"), "containers"), 0);
}

static const char *container_state(const ml_json *group, int64_t *restarts);

static int running(const ml_json *group)
{
	int64_t restarts;
	const char *st = container_state(group, &restarts);

	return st && !strcmp(st, "Running");
}

/* The credential ACI pulls with: a user-assigned identity, the ACR token exchange,
 * or the registry credential this machine has (docker config, environment). */
static int registry_credential(struct aci *a, const char *image, ml_json **out,
			       struct ml_error *err)
{
	struct ml_credential cred = { 0 };
	struct ml_ref ref = { 0 };
	ml_json *c;
	int rc;

	*out = NULL;
	rc = ml_ref_parse(&ref, image, 1, err);
	if (rc < 0)
		return rc;
	c = ml_json_object_new();
	ml_json_set_str(c, "server", ref.host);
	if (a->conf->identity) {
		ml_json_set_str(c, "identity", a->conf->identity);
		*out = c;
		goto out;
	}
	if (ml_acr_scope(ref.host) && ml_entra_configured(a->entra)) {
		cred.username = ml_strdup(ML_ACR_USER);
		cred.source = ml_asprintf("the ACR token exchange (Entra ID: %s)",
					  ml_entra_source(a->entra));
		rc = ml_acr_refresh_token(a->entra, ref.host, &cred.secret, NULL, err);
		rc = rc < 0 ? rc : 1;
		if (rc > 0)
			ml_log(ML_LOG_WARN, "ACI pulls %s with an ACR refresh token that lasts about 3 "
			       "hours: a later pull (a restart, a move to another host) fails after that; "
			       "set deploy.azure.identity to a user-assigned identity with AcrPull for "
			       "a lasting one", ref.host);
	} else {
		rc = ml_auth_credential(ref.host, &cred, err);
	}
	if (rc > 0) {
		ml_log(ML_LOG_INFO, "ACI pulls from %s with credentials from %s", ref.host,
		       cred.source ? cred.source : "the registry login");
		ml_json_set_str(c, "username", cred.username ? cred.username : "");
		ml_json_set_str(c, "password", cred.secret ? cred.secret : "");
		*out = c;
		c = NULL;
		rc = 0;
	}
	ml_json_free(c);
out:
	ml_credential_dispose(&cred);
	ml_ref_dispose(&ref);
	return rc < 0 ? rc : 0;
}

static void add_env(ml_json *arr, const struct ml_azure_conf *conf, const char *name,
		    const char *value)
{
	ml_json *e = ml_json_object_new();

	ml_json_set_str(e, "name", name);
	ml_json_set_str(e, ml_azure_is_secure(conf, name) ? "secureValue" : "value", value);
	ml_json_append(arr, e);
}

static ml_json *probe(const char *path, int port, int initial_delay)
{
	ml_json *p = ml_json_object_new(), *g = ml_json_object_new();

	ml_json_set_str(g, "path", path ? path : "/");
	ml_json_set_int(g, "port", port);
	ml_json_set_str(g, "scheme", "http");
	ml_json_set(p, "httpGet", g);
	ml_json_set_int(p, "initialDelaySeconds", initial_delay);
	ml_json_set_int(p, "periodSeconds", 10);
	ml_json_set_int(p, "failureThreshold", 3);
	return p;
}

static ml_json *port_list(int port, int with_protocol)
{
	ml_json *arr = ml_json_array_new(), *p = ml_json_object_new();

	ml_json_set_int(p, "port", port);
	if (with_protocol)
		ml_json_set_str(p, "protocol", "TCP");
	ml_json_append(arr, p);
	return arr;
}

/* The container group's body, credentials and secure values in it. */
static ml_json *group_body(struct aci *a, const struct ml_deploy_request *req, const char *location)
{
	const struct ml_config *cfg = a->ctx->cfg;
	const struct ml_azure_conf *conf = a->conf;
	ml_json *b = ml_json_object_new(), *props = ml_json_object_new();
	ml_json *c = ml_json_object_new(), *cp = ml_json_object_new(), *res, *req_o, *env, *arr, *ip;
	size_t i;

	ml_json_set_str(b, "location", location);
	ml_json_set_str(c, "name", a->ctx->service);
	ml_json_set_str(cp, "image", req->image);
	ml_json_set(cp, "ports", port_list(req->port, 1));
	env = ml_json_array_new();
	for (i = 0; i < cfg->image.nenv; i++)	/* deploy.azure.env wins */
		if (!ml_kv_has(conf->env, conf->nenv, cfg->image.env[i].key))
			add_env(env, conf, cfg->image.env[i].key, cfg->image.env[i].value);
	for (i = 0; i < conf->nenv; i++)
		add_env(env, conf, conf->env[i].key, conf->env[i].value);
	ml_json_set(cp, "environmentVariables", env);
	res = ml_json_object_new();
	req_o = ml_json_object_new();
	ml_json_set(req_o, "cpu", ml_json_real_new(conf->cpu > 0 ? conf->cpu : 1));
	ml_json_set(req_o, "memoryInGB", ml_json_real_new(conf->memory_gb > 0 ? conf->memory_gb : 1.5));
	ml_json_set(res, "requests", req_o);
	ml_json_set(cp, "resources", res);
	ml_json_set(cp, "readinessProbe", probe(req->health_path, req->port, 5));
	ml_json_set(cp, "livenessProbe", probe(req->health_path, req->port, 30));
	ml_json_set(c, "properties", cp);
	arr = ml_json_array_new();
	ml_json_append(arr, c);
	ml_json_set(props, "containers", arr);
	ml_json_set_str(props, "osType", "Linux");
	ml_json_set_str(props, "restartPolicy", conf->restart_policy ? conf->restart_policy : "Always");
	ip = ml_json_object_new();
	ml_json_set_str(ip, "type", "Public");
	ml_json_set_str(ip, "dnsNameLabel", a->dns_label);
	ml_json_set(ip, "ports", port_list(req->port, 1));
	ml_json_set(props, "ipAddress", ip);
	ml_json_set(b, "properties", props);
	if (conf->identity) {
		/* ACI pulls as this user-assigned identity, which the group must carry */
		ml_json *id = ml_json_object_new(), *ids = ml_json_object_new();

		ml_json_set_str(id, "type", "UserAssigned");
		ml_json_set(ids, conf->identity, ml_json_object_new());
		ml_json_set(id, "userAssignedIdentities", ids);
		ml_json_set(b, "identity", id);
	}
	return b;
}

/* What makes two deployments the same, kept in a tag that others may read: the body
 * without the registry credential (a fresh token every run) and without the secure
 * values, which count only through a slow salted digest (PBKDF2), so that the tag
 * does not let anyone test guesses of them cheaply. */
static void settings_hash(const struct aci *a, const ml_json *body, char out[ML_DIGEST_LEN])
{
	ml_json *copy = ml_json_deep_copy(body);
	ml_json *env = ml_json_get(ml_json_get(first_container(copy), "properties"),
				   "environmentVariables");
	unsigned char slow[ML_SHA256_LEN];
	char hex[2 * ML_SHA256_LEN + 1];
	struct ml_buf secrets, b;
	size_t i;

	ml_buf_init(&secrets, 0);
	for (i = 0; env && i < ml_json_size(env); i++) {
		ml_json *e = ml_json_at(env, i);
		const char *v = ml_json_get_str(e, "secureValue");

		if (v) {
			ml_buf_printf(&secrets, "%s=%s\n", ml_json_get_str(e, "name"), v);
			ml_json_set_str(e, "secureValue", "");
		}
	}
	ml_pbkdf2_sha256(secrets.data, secrets.len, a->cg_path, strlen(a->cg_path), 200000, slow);
	ml_hex_encode(hex, slow, sizeof(slow));
	ml_wipe(secrets.data, secrets.len);
	ml_buf_dispose(&secrets);
	ml_json_set(ml_json_get(copy, "properties"), "imageRegistryCredentials", NULL);
	ml_json_set(copy, "tags", NULL);
	ml_json_set_str(copy, "secureValues", hex);
	ml_buf_init(&b, 0);
	ml_json_dump(copy, &b);
	ml_sha256_digest(b.data, b.len, out);
	ml_buf_dispose(&b);
	ml_json_free(copy);
}

/* A copy fit to print: secure values and registry passwords masked. */
static ml_json *masked(const ml_json *body)
{
	ml_json *copy = ml_json_deep_copy(body), *props = ml_json_get(copy, "properties");
	ml_json *creds = ml_json_get(props, "imageRegistryCredentials");
	ml_json *containers = ml_json_get(props, "containers");
	size_t i, k;

	for (i = 0; creds && i < ml_json_size(creds); i++)
		if (ml_json_get(ml_json_at(creds, i), "password"))
			ml_json_set_str(ml_json_at(creds, i), "password", "***");
	for (i = 0; containers && i < ml_json_size(containers); i++) {
		ml_json *env = ml_json_get(ml_json_get(ml_json_at(containers, i), "properties"),
					   "environmentVariables");

		for (k = 0; env && k < ml_json_size(env); k++)
			if (ml_json_get(ml_json_at(env, k), "secureValue"))
				ml_json_set_str(ml_json_at(env, k), "secureValue", "***");
	}
	return copy;
}

static int check_secure_names(struct aci *a, const ml_json *body, struct ml_error *err)
{
	const ml_json *env = ml_json_get(ml_json_get(first_container(body), "properties"),
					 "environmentVariables");
	size_t i, k;

	for (i = 0; i < a->conf->secure_env.n; i++) {
		const char *name = a->conf->secure_env.v[i];

		for (k = 0; k < ml_json_size(env); k++)
			if (!strcmp(ml_json_get_str(ml_json_at(env, k), "name"), name))
				break;
		if (k == ml_json_size(env))
			return ml_error_set(err, ML_ECONFIG, "%s: deploy.azure.secure_env names '%s', "
					    "which neither image.env nor deploy.azure.env sets",
					    a->ctx->cfg->path, name);
	}
	return 0;
}

static int resource_group_step(struct aci *a, struct aci_plan *ap, struct ml_plan *plan,
			       const char **location, ml_json **group, struct ml_error *err)
{
	int rc = arm_get(a, a->group_path, GROUP_API, group, err);
	char *url;

	if (rc < 0)
		return rc;
	if (*group) {
		*location = first_set(a->conf->location, ml_json_get_str(*group, "location"));
		return 0;
	}
	if (!a->conf->create_resource_group)
		return ml_error_set(err, ML_ENOTFOUND, "resource group '%s' does not exist in "
				    "subscription %s: create it, or set "
				    "deploy.azure.create_resource_group: true", a->conf->resource_group,
				    a->subscription);
	if (!a->conf->location)
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.azure.location is needed to create "
				    "resource group '%s'", a->ctx->cfg->path, a->conf->resource_group);
	*location = a->conf->location;
	ap->create_group = 1;
	ap->group_body = ml_json_object_new();
	ml_json_set_str(ap->group_body, "location", a->conf->location);
	ml_json_set(ap->group_body, "tags", ml_json_object_new());
	ml_json_set_str(ml_json_get(ap->group_body, "tags"), TAG_MANAGED, "mldeploy");
	url = ml_asprintf("%s?api-version=%s", a->group_path, GROUP_API);
	ml_plan_add(plan, "create the resource group", "PUT", url, ml_json_deep_copy(ap->group_body), 1);
	free(url);
	return 0;
}

static void set_tags(ml_json *body, const struct ml_deploy_request *req, const char *hash,
		     const ml_json *live)
{
	ml_json *tags = ml_json_object_new();
	const char *live_image = tag(live, TAG_IMAGE);

	ml_json_set_str(tags, TAG_MANAGED, "mldeploy");
	ml_json_set_str(tags, TAG_SETTINGS, hash);
	ml_json_set_str(tags, TAG_DIGEST, req->digest);
	ml_json_set_str(tags, TAG_IMAGE, req->image);
	if (live_image && strcmp(live_image, req->image)) {
		ml_json_set_str(tags, TAG_PREV_IMAGE, live_image);
		if (tag(live, TAG_DIGEST))
			ml_json_set_str(tags, TAG_PREV_DIGEST, tag(live, TAG_DIGEST));
	} else if (tag(live, TAG_PREV_IMAGE)) {
		ml_json_set_str(tags, TAG_PREV_IMAGE, tag(live, TAG_PREV_IMAGE));
		if (tag(live, TAG_PREV_DIGEST))
			ml_json_set_str(tags, TAG_PREV_DIGEST, tag(live, TAG_PREV_DIGEST));
	}
	ml_json_set(body, "tags", tags);
}

int ml_aci_plan(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
		struct ml_error *err)
{
	struct aci *a = state;
	struct aci_plan *ap = ml_calloc(1, sizeof(*ap));
	ml_json *rg = NULL, *live = NULL, *cred = NULL;
	const char *location = NULL, *state_s;
	char hash[ML_DIGEST_LEN], *url;
	int rc;

	plan->priv = ap;
	plan->priv_free = aci_plan_free;
	if (!req->image)
		return ml_error_set(err, ML_ECONFIG, "%s: ACI runs images from a registry: set "
				    "image.repository", a->ctx->cfg->path);
	ap->digest = ml_strdup(req->digest);
	ap->image = ml_strdup(req->image);
	ap->port = req->port;
	ap->recreate = req->recreate;
	ap->no_wait = req->no_wait;
	ap->timeout_s = req->timeout_s;
	rc = resource_group_step(a, ap, plan, &location, &rg, err);
	if (rc == 0 && !ap->create_group)
		rc = arm_get(a, a->cg_path, ACI_API, &live, err);
	if (rc < 0)
		goto out;
	if (live && (!tag(live, TAG_MANAGED) || strcmp(tag(live, TAG_MANAGED), "mldeploy"))) {
		rc = ml_error_set(err, ML_ECONFLICT, "container group '%s' in resource group '%s' was "
				  "not created by mldeploy (no managed-by: mldeploy tag); choose "
				  "another name or remove it", a->ctx->service, a->conf->resource_group);
		goto out;
	}
	ap->body = group_body(a, req, location ? location : ml_json_get_str(live, "location"));
	rc = check_secure_names(a, ap->body, err);
	if (rc < 0)
		goto out;
	settings_hash(a, ap->body, hash);
	set_tags(ap->body, req, hash, live);
	state_s = ml_json_get_str(ml_json_get(live, "properties"), "provisioningState");
	plan->live = live != NULL;
	if (live && tag(live, TAG_DIGEST) && strcmp(tag(live, TAG_DIGEST), req->digest))
		ap->previous_digest = ml_strdup(tag(live, TAG_DIGEST));
	if (live && tag(live, TAG_SETTINGS) && !strcmp(tag(live, TAG_SETTINGS), hash) &&
	    tag(live, TAG_IMAGE) && !strcmp(tag(live, TAG_IMAGE), req->image) && state_s &&
	    !strcmp(state_s, "Succeeded") && running(live)) {
		plan->noop = 1;
		plan->summary = ml_asprintf("no change: container group %s already runs %s",
					    a->ctx->service, req->digest);
		goto out;
	}
	rc = registry_credential(a, req->image, &cred, err);
	if (rc < 0)
		goto out;
	if (cred) {
		ml_json *arr = ml_json_array_new();

		ml_json_append(arr, cred);
		ml_json_set(ml_json_get(ap->body, "properties"), "imageRegistryCredentials", arr);
	}
	url = ml_asprintf("%s?api-version=%s", a->cg_path, ACI_API);
	ml_plan_add(plan, live ? "update the container group (its containers restart: ACI "
			   "replaces them in place)" : "create the container group", "PUT", url,
		    masked(ap->body), 1);
	free(url);
	ml_plan_add(plan, "wait for the operation (Azure-AsyncOperation)", "GET", "{operation}", NULL, 0);
	plan->summary = ml_asprintf("%s container group %s running %s", live ? "update" : "create",
				    a->ctx->service, req->digest);
out:
	ml_json_free(rg);
	ml_json_free(live);
	return rc;
}

/* Polling an Azure-AsyncOperation URL. */
struct op {
	struct aci *a;
	const char *url;
};

static void describe_container(struct aci *a, const ml_json *group, struct ml_buf *out);

static int look_at_operation(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct op *op = ud;
	struct ml_rest_result res;
	const char *status, *ra;
	int rc = ml_rest_call(op->a->arm, "GET", op->url, NULL, 0, &res, err);

	if (rc < 0) {
		ml_rest_result_dispose(&res);
		return rc;
	}
	status = ml_json_get_str(res.body, "status");
	snprintf(step->progress, sizeof(step->progress), "%s %s", op->a->ctx->service,
		 status ? status : "?");
	ra = ml_http_response_header(&res.resp, "Retry-After");
	if (ra)
		step->retry_after_ms = strtol(ra, NULL, 10) * 1000;
	if (status && !strcmp(status, "Succeeded"))
		rc = ML_POLL_DONE;
	else if (status && (!strcmp(status, "Failed") || !strcmp(status, "Canceled"))) {
		const ml_json *e = ml_json_get(res.body, "error");
		const char *msg;
		size_t len;
		struct ml_error gerr = { 0 };
		struct ml_buf why;
		ml_json *group = NULL;

		/* why, as the container shows it (a pull or start that failed) */
		ml_buf_init(&why, 8192);
		if (arm_get(op->a, op->a->cg_path, ACI_API, &group, &gerr) == 0 &&
		    first_container(group)) {
			ml_buf_adds(&why, "; ");
			describe_container(op->a, group, &why);
		}
		ml_json_free(group);
		msg = ml_json_get_str(e, "message") ? ml_json_get_str(e, "message") : "no detail";
		len = strlen(msg);
		if (len && msg[len - 1] == '.')	/* ARM's sentences end in a period */
			len--;
		ml_error_set(err, ML_EPROTO, "Azure: the operation on container group %s %s: %s%s%.*s%s",
			     op->a->ctx->service, status,
			     ml_json_get_str(e, "code") ? ml_json_get_str(e, "code") : "",
			     ml_json_get_str(e, "code") ? ": " : "", (int)len, msg, ml_buf_str(&why));
		ml_buf_dispose(&why);
		rc = ML_POLL_FAILED;
	} else {
		rc = ML_POLL_PENDING;
	}
	ml_rest_result_dispose(&res);
	return rc;
}

static int wait_operation(struct aci *a, const struct ml_rest_result *res, const char *what,
			  struct ml_error *err)
{
	const char *url = ml_http_response_header(&res->resp, "Azure-AsyncOperation");
	struct op op = { a, url };
	struct ml_poll_opts po = { .what = what, .timeout_s = OPERATION_TIMEOUT_S,
				   .interrupted = a->ctx->interrupted };

	if (!url)
		return 0;	/* done at once */
	return ml_poll(&po, look_at_operation, &op, err);
}

/* The container's events, for an error: "Pulling: ...; Failed: ...". */
static void describe_events(const ml_json *group, struct ml_buf *out)
{
	const ml_json *iv = ml_json_get(ml_json_get(first_container(group), "properties"),
					"instanceView");
	const ml_json *events = ml_json_get(iv, "events");
	size_t i, n = events ? ml_json_size(events) : 0;

	for (i = n > 5 ? n - 5 : 0; i < n; i++) {
		const ml_json *e = ml_json_at(events, i);

		ml_buf_printf(out, "%s%s: %s", ml_buf_str(out)[0] ? "; " : "",
			      ml_json_get_str(e, "name") ? ml_json_get_str(e, "name") : "event",
			      ml_json_get_str(e, "message") ? ml_json_get_str(e, "message") : "");
	}
}

static const char *container_state(const ml_json *group, int64_t *restarts)
{
	const ml_json *iv = ml_json_get(ml_json_get(first_container(group), "properties"),
					"instanceView");

	*restarts = 0;
	ml_json_get_int(iv, "restartCount", restarts);
	return ml_json_get_str(ml_json_get(iv, "currentState"), "state");
}

static char *url_of(const ml_json *group, int port)
{
	const char *fqdn = ml_json_get_str(ml_json_get(ml_json_get(group, "properties"), "ipAddress"),
					   "fqdn");

	return fqdn ? ml_asprintf("http://%s:%d", fqdn, port) : NULL;
}

/* PUT, then wait for its operation. *cannot_update is set when ARM refuses to change
 * the resource in place (409 InvalidContainerGroupUpdate). */
static int put(struct aci *a, const char *path, const char *api, const ml_json *body,
	       const char *what, int *cannot_update, struct ml_error *err)
{
	struct ml_rest_result res;
	char *p = ml_asprintf("%s?api-version=%s", path, api);
	int rc = ml_rest_call(a->arm, "PUT", p, body, 0, &res, err);

	if (cannot_update)
		*cannot_update = rc < 0 && res.status == 409 &&
				 !strcmp(res.code, "InvalidContainerGroupUpdate");
	if (rc == 0)
		rc = wait_operation(a, &res, what, err);
	ml_rest_result_dispose(&res);
	free(p);
	return rc;
}

static int look_at_deletion(void *ud, struct ml_poll_step *step, struct ml_error *err);

/* DELETE path and wait until a GET says 404. */
static int delete_and_wait(struct aci *a, const char *path, const char *api, const char *what,
			   struct ml_error *err)
{
	struct ml_poll_opts po = { .what = what, .timeout_s = OPERATION_TIMEOUT_S,
				   .interrupted = a->ctx->interrupted };
	struct ml_rest_result rr;
	struct gone g = { a, path, api, what };
	char *p = ml_asprintf("%s?api-version=%s", path, api);
	int rc = ml_rest_call(a->arm, "DELETE", p, NULL, ML_REST_ALLOW_404, &rr, err);

	ml_rest_result_dispose(&rr);
	free(p);
	return rc < 0 ? rc : ml_poll(&po, look_at_deletion, &g, err);
}

/* The container group, created or updated; with --recreate, deleted first when ARM
 * cannot update it in place. */
static int put_group(struct aci *a, const struct aci_plan *ap, struct ml_error *err)
{
	int cannot_update = 0;
	int rc = put(a, a->cg_path, ACI_API, ap->body, "container group", &cannot_update, err);

	if (rc < 0 && cannot_update && ap->recreate) {
		ml_log(ML_LOG_INFO, "ARM cannot update container group %s in place: deleting it "
		       "and creating it again (--recreate)", a->ctx->service);
		rc = delete_and_wait(a, a->cg_path, ACI_API, "container group", err);
		if (rc == 0)
			rc = put(a, a->cg_path, ACI_API, ap->body, "container group", NULL, err);
	} else if (rc < 0 && cannot_update) {
		ml_error_prefix(err, "ACI cannot change this in place: deploy again with --recreate "
				"(the container group is deleted first: downtime)");
	}
	return rc;
}

/* The container's state for an error: "container web is Terminated (exit code 1,
 * Error; restarts: 0); events: ...". */
static void describe_container(struct aci *a, const ml_json *group, struct ml_buf *out)
{
	const ml_json *iv = ml_json_get(ml_json_get(first_container(group), "properties"),
					"instanceView");
	const ml_json *cur = ml_json_get(iv, "currentState");
	const char *detail = ml_json_get_str(cur, "detailStatus");
	struct ml_buf events;
	int64_t restarts, code;
	const char *st = container_state(group, &restarts);

	ml_buf_printf(out, "container %s is %s (", a->ctx->service, st ? st : "not running");
	if (ml_json_get_int(cur, "exitCode", &code) == 0)
		ml_buf_printf(out, "exit code %lld, ", (long long)code);
	if (detail && *detail)
		ml_buf_printf(out, "%s; ", detail);
	ml_buf_printf(out, "restarts: %lld)", (long long)restarts);
	ml_buf_init(&events, 4096);
	describe_events(group, &events);
	if (events.len)
		ml_buf_printf(out, "; events: %s", ml_buf_str(&events));
	ml_buf_dispose(&events);
}

static int container_error(struct aci *a, const ml_json *group, struct ml_error *err)
{
	struct ml_buf b;
	int rc;

	ml_buf_init(&b, 8192);
	describe_container(a, group, &b);
	rc = ml_error_set(err, ML_EPROTO, "%s", ml_buf_str(&b));
	ml_buf_dispose(&b);
	return rc;
}

/* ARM's operation succeeds once the container has started: it may exit right after.
 * Health attempts until health.path answers, looking at the container between them;
 * one that stopped running or restarted fails the deploy with its state and events. */
static int wait_serving(struct aci *a, const struct aci_plan *ap, const char *url,
			int64_t restarts0, struct ml_error *err)
{
	long timeout_s = ap->timeout_s > 0 ? ap->timeout_s : HEALTH_TIMEOUT_S;
	double start = ml_now_s(), left;
	struct ml_health h;
	ml_json *group;
	const char *st;
	int64_t restarts;
	int rc, attempts = 0;

	for (;;) {
		struct ml_health_opts ho = { .base_url = url, .path = a->ctx->cfg->health.path,
					     .interrupted = a->ctx->interrupted };

		left = start + (double)timeout_s - ml_now_s();
		ho.timeout_s = left > HEALTH_SLICE_S ? HEALTH_SLICE_S : left < 1 ? 1 : (long)left;
		rc = ml_health_check(&ho, &h, err);
		attempts += h.attempts;
		if (rc != -ML_EHEALTH) {	/* passed, or interrupted */
			free(h.url);
			free(h.detail);
			return rc;
		}
		rc = arm_get(a, a->cg_path, ACI_API, &group, err);
		if (rc == 0 && !group)
			rc = ml_error_set(err, ML_EPROTO, "Azure: container group %s is gone after "
					  "the deploy", a->ctx->service);
		st = rc == 0 ? container_state(group, &restarts) : NULL;
		if (rc == 0 && (!st || strcmp(st, "Running") || restarts > restarts0))
			rc = container_error(a, group, err);
		else if (rc == 0 && ml_now_s() - start >= (double)timeout_s)
			rc = ml_error_set(err, ML_EHEALTH, "health check failed: %s (%d attempts in "
					  "%.0f s); check that the app serves health.path on image.port",
					  h.detail ? h.detail : "no answer", attempts,
					  ml_now_s() - start);
		ml_json_free(group);
		free(h.url);
		free(h.detail);
		if (rc < 0)
			return rc;
	}
}

int ml_aci_deploy(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		  struct ml_error *err)
{
	struct aci *a = state;
	struct aci_plan *ap = plan->priv;
	ml_json *group = NULL;
	const char *st;
	int64_t restarts;
	int rc = 0;

	res->digest = ml_strdup(ap->digest);
	res->revision = ml_strdup(a->ctx->service);
	res->changed = !plan->noop;
	res->previous_digest = ml_strdup(ap->previous_digest);
	if (!plan->noop && ap->create_group)
		rc = put(a, a->group_path, GROUP_API, ap->group_body, "resource group", NULL, err);
	if (!plan->noop && rc == 0)
		rc = put_group(a, ap, err);
	if (rc == 0)
		rc = arm_get(a, a->cg_path, ACI_API, &group, err);
	if (rc < 0)
		return rc;
	if (!group)
		return ml_error_set(err, ML_EPROTO, "Azure: container group %s is gone after the deploy",
				    a->ctx->service);
	st = container_state(group, &restarts);
	if (!st || strcmp(st, "Running"))
		rc = container_error(a, group, err);
	else if (!(res->url = url_of(group, ap->port)))
		rc = ml_error_set(err, ML_EPROTO, "Azure: container group %s has no public FQDN",
				  a->ctx->service);
	else if (!ap->no_wait)
		rc = wait_serving(a, ap, res->url, restarts, err);
	ml_json_free(group);
	return rc;
}

int ml_aci_status(void *state, struct ml_deploy_result *res, struct ml_error *err)
{
	struct aci *a = state;
	ml_json *group = NULL, *x;
	struct ml_buf events;
	int64_t restarts;
	int rc = arm_get(a, a->cg_path, ACI_API, &group, err);
	int port = a->ctx->cfg->image.port ? a->ctx->cfg->image.port : 8080;

	if (rc < 0)
		return rc;
	if (!group) {
		res->state = ml_strdup("absent");
		return 0;
	}
	res->state = ml_strdup(container_state(group, &restarts));
	res->digest = ml_strdup(tag(group, TAG_DIGEST));
	res->previous_digest = ml_strdup(tag(group, TAG_PREV_DIGEST));
	res->revision = ml_strdup(a->ctx->service);
	res->url = url_of(group, port);
	x = ml_json_object_new();
	ml_json_set_int(x, "restart_count", restarts);
	ml_json_set_str(x, "provisioning_state",
			ml_json_get_str(ml_json_get(group, "properties"), "provisioningState"));
	ml_buf_init(&events, 4096);
	describe_events(group, &events);
	ml_json_set_str(x, "events", ml_buf_str(&events));
	ml_buf_dispose(&events);
	res->extra = x;
	if (res->url) {
		struct ml_health_opts ho = { .base_url = res->url, .path = a->ctx->cfg->health.path,
					     .timeout_s = 5 };
		struct ml_error herr = { 0 };

		ml_health_check(&ho, &res->health, &herr);
	}
	ml_json_free(group);
	return 0;
}

int ml_aci_rollback(void *state, const struct ml_deploy_request *req,
		    struct ml_deploy_result *res, struct ml_error *err)
{
	struct aci *a = state;
	struct ml_deploy_request back = *req;
	struct ml_plan plan;
	ml_json *group = NULL;
	int rc = arm_get(a, a->cg_path, ACI_API, &group, err);

	if (rc == 0 && !group)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s is not deployed on Azure Container Instances",
				  a->ctx->service);
	if (rc == 0 && (!tag(group, TAG_PREV_IMAGE) || !tag(group, TAG_PREV_DIGEST)))
		rc = ml_error_set(err, ML_ENOTFOUND, "nothing to roll back to: %s has run only %s",
				  a->ctx->service, tag(group, TAG_DIGEST) ? tag(group, TAG_DIGEST) : "one image");
	if (rc < 0) {
		ml_json_free(group);
		return rc;
	}
	back.image = tag(group, TAG_PREV_IMAGE);
	back.digest = tag(group, TAG_PREV_DIGEST);
	back.port = a->ctx->cfg->image.port ? a->ctx->cfg->image.port : 8080;
	back.health_path = a->ctx->cfg->health.path;
	ml_plan_init(&plan);
	rc = ml_aci_plan(a, &back, &plan, err);
	if (rc == 0)
		rc = ml_aci_deploy(a, &plan, res, err);
	if (rc == 0 && res->url) {
		struct ml_health_opts ho = { .base_url = res->url, .path = back.health_path,
					     .timeout_s = req->timeout_s, .interrupted = a->ctx->interrupted };

		rc = ml_health_check(&ho, &res->health, err);
	}
	ml_plan_dispose(&plan);
	ml_json_free(group);
	return rc;
}

static int look_at_deletion(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct gone *g = ud;
	ml_json *still = NULL;
	int rc = arm_get(g->a, g->path, g->api, &still, err);

	if (rc < 0)
		return rc;
	snprintf(step->progress, sizeof(step->progress), "%s: %s", g->what,
		 still ? "deleting" : "deleted");
	ml_json_free(still);
	return still ? ML_POLL_PENDING : ML_POLL_DONE;
}

/* --all: the resource group too, when mldeploy created it (its managed-by tag). */
static int destroy_group(struct aci *a, struct ml_deploy_result *res, struct ml_error *err)
{
	ml_json *rg = NULL;
	int rc = arm_get(a, a->group_path, GROUP_API, &rg, err);

	if (rc < 0 || !rg)
		return rc;
	if (!tag(rg, TAG_MANAGED) || strcmp(tag(rg, TAG_MANAGED), "mldeploy")) {
		ml_log(ML_LOG_WARN, "resource group %s was not created by mldeploy: left alone",
		       a->conf->resource_group);
	} else {
		rc = delete_and_wait(a, a->group_path, GROUP_API, "resource group", err);
		if (rc == 0)
			ml_deploy_result_removed(res, "resource group", a->conf->resource_group);
	}
	ml_json_free(rg);
	return rc;
}

int ml_aci_destroy(void *state, const struct ml_deploy_request *req, struct ml_deploy_result *res,
		   struct ml_error *err)
{
	struct aci *a = state;
	ml_json *group = NULL;
	int rc = arm_get(a, a->cg_path, ACI_API, &group, err);

	res->removed = ml_json_array_new();
	res->state = ml_strdup("absent");
	if (rc == 0 && !group && req->destroy_all)
		return destroy_group(a, res, err);
	if (rc < 0 || !group)
		return rc;
	if (!tag(group, TAG_MANAGED) || strcmp(tag(group, TAG_MANAGED), "mldeploy")) {
		ml_json_free(group);
		return ml_error_set(err, ML_ECONFLICT, "container group '%s' was not created by "
				    "mldeploy (no managed-by: mldeploy tag): left alone",
				    a->ctx->service);
	}
	ml_json_free(group);
	rc = delete_and_wait(a, a->cg_path, ACI_API, "container group", err);
	if (rc == 0)
		ml_deploy_result_removed(res, "container group", a->ctx->service);
	if (rc == 0 && req->destroy_all)
		rc = destroy_group(a, res, err);
	return rc;
}
