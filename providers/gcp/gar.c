/* Artifact Registry (see gar.h): the registry login with a Google access token, and
 * the Docker repository that image.repository names, looked at and created through
 * the Artifact Registry API v1 (projects.locations.repositories.get/create, the
 * long-running operation polled). */
#include "gcp/gar.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deploy/endpoint.h"
#include "deploy/poll.h"
#include "gcp/gauth.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/json.h"

#define GAR_USER "oauth2accesstoken"
#define GAR_SUFFIX "-docker.pkg.dev"
#define DEFAULT_AR "https://artifactregistry.googleapis.com"
#define CREATE_TIMEOUT_S 300

static const char *const gcr_hosts[] = { "gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io" };

/* A DNS label: letters, digits and '-', not at either end. */
static int is_label(const char *s, size_t n)
{
	size_t i;

	if (!n || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* The location of LOCATION-docker.pkg.dev (its length in *n), or NULL. */
static const char *pkg_dev_location(const char *host, size_t *n)
{
	size_t len = strlen(host), k = strlen(GAR_SUFFIX);

	if (len <= k || strcasecmp(host + len - k, GAR_SUFFIX) || !is_label(host, len - k))
		return NULL;
	*n = len - k;
	return host;
}

int ml_gar_is_host(const char *host)
{
	size_t i, n;

	if (!host)
		return 0;
	for (i = 0; i < sizeof(gcr_hosts) / sizeof(gcr_hosts[0]); i++)
		if (!strcasecmp(host, gcr_hosts[i]))
			return 1;
	return pkg_dev_location(host, &n) != NULL;
}

/* ---- the registry login ---- */

/* The hook has no per-run state (push calls it from its threads): the Google
 * credential lives for the process here, behind one lock; its token cache makes
 * concurrent pushes, and the provider's API clients (ml_gar_auth), share one token. */
static struct {
	pthread_mutex_t lock;
	struct ml_gauth *auth;
} hook = { PTHREAD_MUTEX_INITIALIZER, NULL };

/* Called with the lock held. */
static int hook_auth(const struct ml_config *cfg, struct ml_error *err)
{
	return hook.auth ? 0 : ml_gauth_new(&hook.auth, cfg, err);
}

int ml_gar_auth(const struct ml_config *cfg, struct ml_gauth **out, struct ml_error *err)
{
	int rc;

	pthread_mutex_lock(&hook.lock);
	rc = hook_auth(cfg, err);
	*out = hook.auth;
	pthread_mutex_unlock(&hook.lock);
	return rc;
}

/* For -v: what was tried (the token request fails at once with that list). */
static void no_credential(const char *host)
{
	struct ml_error none = { 0, "" };
	char *token = NULL;

	if (ml_gauth_token(hook.auth, &token, &none) == 0) {
		ml_free_secret(token);
		return;
	}
	ml_log(ML_LOG_INFO, "registry %s: %s; going on without them", host, none.msg);
}

/* 1 with a token; 2 when out holds the Docker config's credential instead; 0 when
 * there is no Google credential. Called with the lock held. */
static int hook_token(const char *host, char **token, struct ml_credential *out,
		      struct ml_error *err)
{
	int rc;

	if ((rc = hook_auth(NULL, err)) < 0)
		return rc;
	/* Nothing named in the environment: a login the user keeps for this registry
	 * (gcloud's credential helper in ~/.docker/config.json) comes before asking
	 * the metadata server, which a laptop does not have. */
	if (!ml_gauth_configured(hook.auth)) {
		rc = ml_auth_credential(host, out, err);
		if (rc != 0)
			return rc < 0 ? rc : 2;
		if (!ml_gauth_available(hook.auth)) {
			no_credential(host);
			return 0;
		}
	}
	rc = ml_gauth_token(hook.auth, token, err);
	return rc < 0 ? rc : 1;
}

int ml_gar_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err)
{
	char *token = NULL;
	int rc;

	if (!ml_gar_is_host(host))
		return 0;
	pthread_mutex_lock(&hook.lock);
	rc = hook_token(host, &token, out, err);
	if (rc == 1) {
		out->username = ml_strdup(GAR_USER);
		out->secret = token;
		out->source = ml_asprintf("a Google access token (%s)",
					  ml_gauth_source(hook.auth));
	}
	pthread_mutex_unlock(&hook.lock);
	return rc == 2 ? 1 : rc;
}

/* ---- the repository ---- */

struct repo {
	char *project, *location, *id;
	char *name;		/* projects/P/locations/L/repositories/R */
};

static void repo_dispose(struct repo *r)
{
	free(r->project);
	free(r->location);
	free(r->id);
	free(r->name);
}

/* LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[/...]: 1 with r filled, 0 when
 * the host is not LOCATION-docker.pkg.dev, -ML_ECONFIG when the path is short. */
static int parse_repository(const char *repository, struct repo *r, struct ml_error *err)
{
	const char *slash = strchr(repository, '/'), *loc, *p, *q;
	char *host;
	size_t n;
	int is_gar;

	if (!slash)
		return 0;
	host = ml_strndup(repository, (size_t)(slash - repository));
	loc = pkg_dev_location(host, &n);
	is_gar = loc != NULL;
	if (is_gar)
		r->location = ml_strndup(loc, n);
	free(host);
	if (!is_gar)
		return 0;
	p = slash + 1;
	q = strchr(p, '/');
	if (!q || q == p || !q[1] || q[1] == '/' || !strchr(q + 1, '/') ||
	    strchr(q + 1, '/')[1] == '\0')
		return ml_error_set(err, ML_ECONFIG, "image.repository '%s' is not LOCATION-"
				    "docker.pkg.dev/PROJECT/REPOSITORY/IMAGE (hint: e.g. "
				    "us-east1-docker.pkg.dev/my-project/my-repo/iris)", repository);
	r->project = ml_strndup(p, (size_t)(q - p));
	p = q + 1;
	r->id = ml_strndup(p, strcspn(p, "/"));
	for (q = r->location; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			r->location[q - r->location] = (char)(*q - 'A' + 'a');
	r->name = ml_asprintf("projects/%s/locations/%s/repositories/%s", r->project, r->location,
			      r->id);
	return 1;
}

static ml_json *create_body(void)
{
	ml_json *body = ml_json_object_new(), *labels = ml_json_object_new();

	ml_json_set_str(body, "format", "DOCKER");
	ml_json_set_str(body, "description", "Docker images pushed by mldeploy");
	ml_json_set_str(labels, "managed-by", "mldeploy");
	ml_json_set(body, "labels", labels);
	return body;
}

static char *create_path(const struct repo *r)
{
	return ml_asprintf("/v1/projects/%s/locations/%s/repositories?repositoryId=%s",
			   r->project, r->location, r->id);
}

static int missing_error(const struct repo *r, struct ml_error *err)
{
	return ml_error_set(err, ML_ENOTFOUND, "artifact registry repository '%s' does not exist "
			    "(hint: set deploy.gcp.create_repository: true, or create it with "
			    "'gcloud artifacts repositories create %s --repository-format=docker "
			    "--location=%s --project=%s')", r->name, r->id, r->location, r->project);
}

struct op_look {
	struct ml_rest *rest;
	char *path;
	const struct repo *repo;
};

static int look_at_operation(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct op_look *o = ud;
	struct ml_rest_result res = { 0 };
	const ml_json *e;
	int64_t code;
	int rc;

	rc = ml_rest_call(o->rest, "GET", o->path, NULL, 0, &res, err);
	if (rc < 0)
		goto out;
	snprintf(step->progress, sizeof(step->progress), "creating repository %s", o->repo->id);
	rc = ML_POLL_PENDING;
	if (!ml_json_is_true(ml_json_get(res.body, "done")))
		goto out;
	e = ml_json_get(res.body, "error");
	if (e) {
		/* a google.rpc.Status: a numeric code and a message */
		if (ml_json_get_int(e, "code", &code) < 0)
			code = 2;
		ml_error_set(err, ML_EPROTO, "artifact registry: creating repository '%s' failed: "
			     "%s (code %lld)", o->repo->name, ml_json_get_str(e, "message") ?
			     ml_json_get_str(e, "message") : "no message", (long long)code);
		rc = ML_POLL_FAILED;
	} else {
		rc = ML_POLL_DONE;
	}
out:
	ml_rest_result_dispose(&res);
	return rc;
}

static int create_repository(struct ml_gcp *g, const struct ml_deploy_request *req,
			     struct ml_rest *rest, const struct repo *r, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_poll_opts po = { 0 };
	struct op_look o = { rest, NULL, r };
	ml_json *body = create_body();
	char *path = create_path(r);
	const char *op;
	int rc;

	ml_log(ML_LOG_WARN, "creating artifact registry repository %s (format DOCKER)", r->name);
	rc = ml_rest_call(rest, "POST", path, body, ML_REST_ALLOW_409, &res, err);
	if (rc < 0)
		goto out;
	if (res.status == 409) {
		ml_log(ML_LOG_INFO, "artifact registry: repository %s was created meanwhile",
		       r->name);
		goto out;
	}
	op = ml_json_get_str(res.body, "name");
	if (ml_json_is_true(ml_json_get(res.body, "done")) || !op || !*op) {
		o.path = NULL;
	} else {
		o.path = ml_asprintf("/v1/%s", op);
		po.what = "artifact registry operation";
		po.timeout_s = req->timeout_s ? req->timeout_s : CREATE_TIMEOUT_S;
		po.interrupted = g->ctx->interrupted;
		rc = ml_poll(&po, look_at_operation, &o, err);
	}
	if (rc == 0)
		ml_log(ML_LOG_INFO, "artifact registry: created repository %s", r->name);
out:
	ml_rest_result_dispose(&res);
	ml_json_free(body);
	free(path);
	free(o.path);
	return rc;
}

static int check_format(const ml_json *repo, const struct repo *r, struct ml_error *err)
{
	const char *format = ml_json_get_str(repo, "format");

	if (!format || !strcmp(format, "DOCKER"))
		return 0;
	return ml_error_set(err, ML_ECONFLICT, "artifact registry repository '%s' holds %s "
			    "packages, not Docker images (hint: name a repository of format DOCKER "
			    "in image.repository)", r->name, format);
}

int ml_gar_prepare(struct ml_gcp *g, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct repo r = { 0 };
	struct ml_rest *rest;
	char *path = NULL;
	int rc;

	rc = parse_repository(repository, &r, err);
	if (rc <= 0)
		goto out;
	free(g->repository);
	g->repository = ml_strdup(r.name);
	rc = ml_gcp_client(g, "ARTIFACTREGISTRY", "Artifact Registry", DEFAULT_AR, &rest, err);
	if (rc < 0)
		goto out;
	path = ml_asprintf("/v1/%s", r.name);
	rc = ml_rest_call(rest, "GET", path, NULL, ML_REST_ALLOW_404, &res, err);
	if (rc == -ML_EAUTH && res.status == 403) {
		char msg[ML_ERROR_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		rc = ml_error_set(err, ML_EAUTH, "%s (hint: the credential needs "
				  "artifactregistry.repositories.get on project %s, e.g. "
				  "roles/artifactregistry.writer)", msg, r.project);
	}
	if (rc < 0)
		goto out;
	if (res.status != 404) {
		ml_log(ML_LOG_INFO, "artifact registry: repository %s is there", r.name);
		rc = check_format(res.body, &r, err);
		goto out;
	}
	if (!g->conf->create_repository)
		rc = missing_error(&r, err);
	else if (req->dry_run)
		g->repository_missing = 1;
	else
		rc = create_repository(g, req, rest, &r, err);
out:
	ml_rest_result_dispose(&res);
	repo_dispose(&r);
	free(path);
	return rc < 0 ? rc : 0;
}

/* r from "projects/P/locations/L/repositories/R"; 0 or -1. */
static int repo_from_name(const char *name, struct repo *r)
{
	const char *p = name + strlen("projects/"), *l, *id;

	if (strncmp(name, "projects/", 9) || !(l = strstr(p, "/locations/")) ||
	    !(id = strstr(l + 11, "/repositories/")))
		return -1;
	r->project = ml_strndup(p, (size_t)(l - p));
	r->location = ml_strndup(l + 11, (size_t)(id - l - 11));
	r->id = ml_strdup(id + 14);
	r->name = ml_strdup(name);
	return 0;
}

void ml_gar_plan_step(struct ml_gcp *g, struct ml_plan *plan)
{
	struct repo r = { 0 };
	char *path, *url, *base = NULL;

	if (!g->repository_missing || !g->repository || repo_from_name(g->repository, &r) < 0)
		goto out;
	if (ml_endpoint(&base, g->ctx->cfg, "ARTIFACTREGISTRY", DEFAULT_AR, NULL) < 0)
		base = ml_strdup(DEFAULT_AR);
	path = create_path(&r);
	url = ml_asprintf("%s%s", base, path);
	ml_plan_add(plan, "create artifact registry repository", "POST", url, create_body(), 1);
	free(path);
	free(url);
out:
	free(base);
	repo_dispose(&r);
}
