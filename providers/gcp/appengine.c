/* App Engine flexible through the Admin API v1 (appengine.googleapis.com): each
 * deploy is a version (env flex, runtime custom, the image by digest) whose id comes
 * from the digest and the settings, created without traffic, health-checked on its
 * own URL by the core, then given the service's split. A version mldeploy made
 * carries MLDEPLOY_MANAGED_BY=mldeploy in its environment (versions have no labels);
 * destroy and --stop-previous touch only those. */
#include "gcp/gcp.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "deploy/health.h"
#include "deploy/poll.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wrap/digest.h"

#define GAE_URL "https://appengine.googleapis.com"
#define MARK_ENV "MLDEPLOY_MANAGED_BY"
#define MARK_VALUE "mldeploy"
#define FLEX_PORT 8080
#define OPERATION_TIMEOUT_S 1800	/* a flexible version takes minutes to come up */

struct gae {
	struct ml_gcp *g;
	struct ml_rest *api;
	const char *service;	/* the App Engine service id */
	char *app;		/* "/v1/apps/PROJECT" */
	char *svc;		/* app + "/services/SERVICE" */
};

/* What a plan found; deploy, release and abort carry it out. */
struct gae_plan {
	ml_json *body;		/* the version */
	ml_json *versions;	/* the service's versions before the deploy */
	char *version;		/* its id */
	char *digest;
	char *previous;		/* the version that served most traffic, or NULL */
	char *previous_digest;
	char *service_url;
	int exists;		/* the version is there already (an earlier --no-traffic) */
	int stopped;		/* ... but stopped: deploy starts it */
	int created;		/* deploy made it (abort removes it) */
	int started;		/* deploy started it (abort stops it again) */
	int new_service;	/* the service did not exist: the version gets its traffic at once */
	int percent;		/* the new version's share after the release */
	int no_traffic;		/* --no-traffic: no release */
	int stop_previous;
};

static void gae_plan_free(void *p)
{
	struct gae_plan *ap = p;

	ml_json_free(ap->body);
	ml_json_free(ap->versions);
	free(ap->version);
	free(ap->digest);
	free(ap->previous);
	free(ap->previous_digest);
	free(ap->service_url);
	free(ap);
}

static int gae_init(struct ml_gcp *g, struct ml_error *err)
{
	const struct ml_config *cfg = g->ctx->cfg;
	struct gae *a;
	int rc;

	if (g->conf->nsecret_env)
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.secret_env is not supported by "
				    "App Engine flexible (its versions take literal env_variables only): "
				    "use target cloudrun, or read the secret in the app through the "
				    "Secret Manager API", cfg->path);
	if (cfg->image.port && cfg->image.port != FLEX_PORT)
		return ml_error_set(err, ML_ECONFIG, "%s: image.port is %d, but App Engine flexible "
				    "sends requests to port %d: set image.port: %d (the app listens on "
				    "$PORT)", cfg->path, cfg->image.port, FLEX_PORT, FLEX_PORT);
	a = ml_calloc(1, sizeof(*a));
	a->g = g;
	a->service = g->conf->appengine_service ? g->conf->appengine_service : "default";
	a->app = ml_asprintf("/v1/apps/%s", g->project);
	a->svc = ml_asprintf("%s/services/%s", a->app, a->service);
	g->target_state = a;
	rc = ml_gcp_client(g, "APPENGINE", "App Engine", GAE_URL, &a->api, err);
	return rc;
}

static void gae_cleanup(struct ml_gcp *g)
{
	struct gae *a = g->target_state;

	if (!a)
		return;
	free(a->app);
	free(a->svc);
	free(a);
	g->target_state = NULL;
}

/* ---- reading ---- */

/* GET path; *out NULL when it does not exist. */
static int get(struct gae *a, const char *path, ml_json **out, struct ml_error *err)
{
	struct ml_rest_result res;
	int rc = ml_rest_call(a->api, "GET", path, NULL, ML_REST_ALLOW_404, &res, err);

	*out = rc == 0 && res.status != 404 ? ml_json_ref(res.body) : NULL;
	ml_rest_result_dispose(&res);
	return rc;
}

static int load_app(struct gae *a, ml_json **app, struct ml_error *err)
{
	int rc = get(a, a->app, app, err);

	if (rc == 0 && !*app)
		rc = ml_error_set(err, ML_ENOTFOUND, "App Engine: project %s has no App Engine "
				  "application: create it once with `gcloud app create --region=REGION` "
				  "(its region cannot change later)", a->g->project);
	return rc;
}

/* An application's region is chosen once, at its creation: deploy.gcp.region cannot
 * move it. */
static void where_it_runs(const struct gae *a, const ml_json *app)
{
	const char *loc = ml_json_get_str(app, "locationId");
	const char *want = a->g->conf->region;

	if (loc && want && strcmp(loc, want))
		ml_log(ML_LOG_WARN, "deploy.gcp.region is %s, but the App Engine application of "
		       "project %s is in %s, where its versions run (its region cannot change)",
		       want, a->g->project, loc);
}

/* https://HOST for the default service, https://SERVICE-dot-HOST for the others. */
static char *service_url(struct gae *a, const ml_json *app)
{
	const char *host = ml_json_get_str(app, "defaultHostname");

	if (!host)
		return NULL;
	if (!strcmp(a->service, "default"))
		return ml_asprintf("https://%s", host);
	return ml_asprintf("https://%s-dot-%s", a->service, host);
}

/* The service's versions (with their settings), newest last as the API lists them. */
static int list_versions(struct gae *a, ml_json **out, struct ml_error *err)
{
	char *path = ml_asprintf("%s/versions?view=FULL", a->svc);
	int rc;

	*out = ml_json_array_new();
	rc = ml_rest_list(a->api, path, "versions", "nextPageToken", 0, *out, err);
	free(path);
	return rc;
}

static const char *vid(const ml_json *v)
{
	return ml_json_get_str(v, "id");
}

static int is_ours(const ml_json *v)
{
	const char *m = ml_json_get_str(ml_json_get(v, "envVariables"), MARK_ENV);

	return m && !strcmp(m, MARK_VALUE);
}

static int is_serving(const ml_json *v)
{
	const char *s = ml_json_get_str(v, "servingStatus");

	return !s || !strcmp(s, "SERVING");
}

static int is_flex(const ml_json *v)
{
	const char *e = ml_json_get_str(v, "env");

	return e && !strcmp(e, "flex");
}

/* "sha256:..." of a version's image, or NULL. */
static const char *version_digest(const ml_json *v)
{
	const char *image = ml_json_get_str(ml_json_get(ml_json_get(v, "deployment"), "container"),
					    "image");
	const char *at = image ? strchr(image, '@') : NULL;

	return at ? at + 1 : NULL;
}

static const ml_json *find_version(const ml_json *versions, const char *id)
{
	size_t i;

	for (i = 0; id && i < ml_json_size(versions); i++)
		if (vid(ml_json_at(versions, i)) && !strcmp(vid(ml_json_at(versions, i)), id))
			return ml_json_at(versions, i);
	return NULL;
}

static double allocation(const ml_json *svc, const char *id)
{
	double d = 0;

	ml_json_number(ml_json_get(ml_json_get(ml_json_get(svc, "split"), "allocations"), id), &d);
	return d;
}

/* The version with the largest share of the traffic, or NULL. */
static const char *main_version(ml_json *svc)
{
	ml_json *alloc = ml_json_get(ml_json_get(svc, "split"), "allocations");
	const char *best = NULL;
	double top = 0, d;
	void *it;

	for (it = alloc ? ml_json_iter(alloc) : NULL; it; it = ml_json_iter_next(alloc, it))
		if (ml_json_number(ml_json_iter_value(it), &d) == 0 && d > top) {
			top = d;
			best = ml_json_iter_key(it);
		}
	return best;
}

/* ---- operations ---- */

struct op {
	struct gae *a;
	char *path;
	const char *what;
};

/* One look at a google.longrunning.Operation. */
static int op_state(const ml_json *op, const char *what, struct ml_poll_step *step,
		    struct ml_error *err)
{
	const ml_json *e = ml_json_get(op, "error");
	const char *msg = ml_json_get_str(ml_json_get(op, "metadata"), "ephemeralMessage");
	const char *why;
	int64_t code = 0;
	size_t len;

	if (step)
		snprintf(step->progress, sizeof(step->progress), "%s: %s", what,
			 msg ? msg : ml_json_is_true(ml_json_get(op, "done")) ? "done" : "running");
	if (!ml_json_is_true(ml_json_get(op, "done")))
		return ML_POLL_PENDING;
	if (!e)
		return ML_POLL_DONE;
	ml_json_get_int(e, "code", &code);
	why = ml_json_get_str(e, "message") ? ml_json_get_str(e, "message") : "no detail";
	len = strlen(why);
	if (len && why[len - 1] == '.')	/* Google's sentences end in a period */
		len--;
	ml_error_set(err, ML_EPROTO, "App Engine: %s failed: %.*s (code %lld)", what, (int)len, why,
		     (long long)code);
	return ML_POLL_FAILED;
}

static int look_at_operation(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct op *op = ud;
	struct ml_rest_result res;
	int rc = ml_rest_call(op->a->api, "GET", op->path, NULL, 0, &res, err);

	if (rc == 0)
		rc = op_state(res.body, op->what, step, err);
	ml_rest_result_dispose(&res);
	return rc;
}

/* method path body, then its operation until it is done. With ML_REST_ALLOW_404 a
 * 404 is success: what was to be deleted is gone already. */
static int call_op(struct gae *a, const char *method, const char *path, const ml_json *body,
		   unsigned flags, const char *what, struct ml_error *err)
{
	struct ml_poll_opts po = { .what = what, .timeout_s = OPERATION_TIMEOUT_S,
				   .interrupted = a->g->ctx->interrupted };
	struct ml_rest_result res;
	struct op op = { a, NULL, what };
	const char *name;
	int rc = ml_rest_call(a->api, method, path, body, flags, &res, err);

	if (rc < 0 || res.status == 404)
		goto out;
	name = ml_json_get_str(res.body, "name");
	rc = op_state(res.body, what, NULL, err);
	if (rc == ML_POLL_FAILED) {
		rc = -err->code;
	} else if (rc == ML_POLL_DONE || !name) {
		rc = 0;
	} else {
		op.path = ml_asprintf("/v1/%s", name);
		rc = ml_poll(&po, look_at_operation, &op, err);
		free(op.path);
	}
out:
	ml_rest_result_dispose(&res);
	return rc;
}

static int set_serving(struct gae *a, const char *version, int serving, struct ml_error *err)
{
	ml_json *body = ml_json_object_new();
	char *path = ml_asprintf("%s/versions/%s?updateMask=servingStatus", a->svc, version);
	char *what = ml_asprintf("%s version %s", serving ? "starting" : "stopping", version);
	int rc;

	ml_json_set_str(body, "servingStatus", serving ? "SERVING" : "STOPPED");
	rc = call_op(a, "PATCH", path, body, 0, what, err);
	ml_json_free(body);
	free(path);
	free(what);
	return rc;
}

static ml_json *split_body(const char *version, int percent, const char *other)
{
	ml_json *b = ml_json_object_new(), *split = ml_json_object_new();
	ml_json *alloc = ml_json_object_new();

	if (percent >= 100 || !other || !strcmp(other, version)) {
		ml_json_set(alloc, version, ml_json_real_new(1));
	} else {
		ml_json_set(alloc, version, ml_json_real_new(percent / 100.0));
		ml_json_set(alloc, other, ml_json_real_new((100 - percent) / 100.0));
	}
	ml_json_set(split, "allocations", alloc);
	ml_json_set(b, "split", split);
	return b;
}

static int set_split(struct gae *a, const char *version, int percent, const char *other,
		     struct ml_error *err)
{
	ml_json *body = split_body(version, percent, other);
	char *path = ml_asprintf("%s?updateMask=split", a->svc);
	char *what = ml_asprintf("moving traffic of service %s to version %s", a->service, version);
	int rc = call_op(a, "PATCH", path, body, 0, what, err);

	ml_json_free(body);
	free(path);
	free(what);
	return rc;
}

static int delete_version(struct gae *a, const char *version, struct ml_error *err)
{
	char *path = ml_asprintf("%s/versions/%s", a->svc, version);
	char *what = ml_asprintf("deleting version %s", version);
	int rc = call_op(a, "DELETE", path, NULL, ML_REST_ALLOW_404, what, err);

	free(path);
	free(what);
	return rc;
}

static int delete_service(struct gae *a, struct ml_error *err)
{
	char *what = ml_asprintf("deleting service %s", a->service);
	int rc = call_op(a, "DELETE", a->svc, NULL, ML_REST_ALLOW_404, what, err);

	free(what);
	return rc;
}

/* ---- the version ---- */

/* "1", "2", "500m" as a number of cores. */
static double parse_cpu(const char *v)
{
	char *end;
	double d = strtod(v, &end);

	return !strcmp(end, "m") ? d / 1000 : d;
}

/* "512Mi", "2Gi", "1G" as App Engine's GB (binary units count as GiB, as its own
 * app.yaml examples do: memory_gb 0.5 for 512 MiB). */
static double parse_memory(const char *v)
{
	static const struct { const char *unit; double gb; } units[] = {
		{ "Ki", 1.0 / 1048576 }, { "Mi", 1.0 / 1024 }, { "Gi", 1 }, { "Ti", 1024 },
		{ "k", 1e-6 }, { "K", 1e-6 }, { "M", 1e-3 }, { "G", 1 }, { "T", 1000 },
	};
	char *end;
	double d = strtod(v, &end);
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit))
			return d * units[i].gb;
	return d / 1e9;
}

/* App Engine flexible's rules: 1 core or an even number; 0.9 to 6.5 GB per core,
 * less the 0.4 GB its own processes take. */
static int resources(struct gae *a, ml_json *body, struct ml_error *err)
{
	const struct ml_gcp_conf *c = a->g->conf;
	const char *path = a->g->ctx->cfg->path;
	double cpu = c->cpu ? parse_cpu(c->cpu) : 1, mem, lo, hi;
	ml_json *r;

	if (!c->cpu && !c->memory)
		return 0;
	if (cpu < 1 || cpu > 80 || cpu != (double)(long)cpu || (cpu > 1 && (long)cpu % 2))
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.cpu '%s' does not fit App Engine "
				    "flexible: 1 or an even number of cores up to 80", path, c->cpu);
	r = ml_json_object_new();
	ml_json_set(r, "cpu", ml_json_real_new(cpu));
	if (c->memory) {
		mem = parse_memory(c->memory);
		lo = cpu * 0.9 - 0.4;
		hi = cpu * 6.5 - 0.4;
		if (mem < lo - 1e-9 || mem > hi + 1e-9) {
			ml_json_free(r);
			return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.memory '%s' does not fit "
					    "App Engine flexible with %g core(s): between %.1f and %.1f GB "
					    "(0.9 to 6.5 GB per core, less 0.4 GB)", path, c->memory, cpu,
					    lo, hi);
		}
		ml_json_set(r, "memoryGb", ml_json_real_new(mem));
	}
	ml_json_set(body, "resources", r);
	return 0;
}

static int scaling(struct gae *a, ml_json *body, struct ml_error *err)
{
	const struct ml_gcp_conf *c = a->g->conf;
	ml_json *s = ml_json_object_new();

	if (c->instances > 0) {
		ml_json_set_int(s, "instances", c->instances);
		ml_json_set(body, "manualScaling", s);
		return 0;
	}
	if (c->max_instances == 0) {
		ml_json_free(s);
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.max_instances is 0: App Engine "
				    "flexible runs at least one instance", a->g->ctx->cfg->path);
	}
	if (c->min_instances < 1)
		ml_log(ML_LOG_INFO, "App Engine flexible keeps at least one instance: min_instances "
		       "%d taken as 1", c->min_instances);
	ml_json_set_int(s, "minTotalInstances", c->min_instances < 1 ? 1 : c->min_instances);
	if (c->max_instances > 0)
		ml_json_set_int(s, "maxTotalInstances", c->max_instances);
	ml_json_set(body, "automaticScaling", s);
	return 0;
}

static ml_json *check(const char *path)
{
	ml_json *c = ml_json_object_new();

	ml_json_set_str(c, "path", path ? path : "/");
	return c;
}

/* The version's body without its id: image by digest, resources, scaling, checks
 * on health.path, image.env then deploy.gcp.env, and mldeploy's mark. */
static int version_body(struct gae *a, const struct ml_deploy_request *req, ml_json **out,
			struct ml_error *err)
{
	const struct ml_config *cfg = a->g->ctx->cfg;
	const struct ml_gcp_conf *c = a->g->conf;
	ml_json *b = ml_json_object_new(), *dep = ml_json_object_new(), *ct = ml_json_object_new();
	ml_json *env = ml_json_object_new();
	size_t i;
	int rc;

	*out = NULL;
	ml_json_set_str(b, "runtime", "custom");
	ml_json_set_str(b, "env", "flex");
	ml_json_set_str(ct, "image", req->image);
	ml_json_set(dep, "container", ct);
	ml_json_set(b, "deployment", dep);
	rc = resources(a, b, err);
	if (rc == 0)
		rc = scaling(a, b, err);
	ml_json_set(b, "livenessCheck", check(req->health_path));
	ml_json_set(b, "readinessCheck", check(req->health_path));
	for (i = 0; i < cfg->image.nenv; i++)
		if (!ml_kv_has(c->env, c->nenv, cfg->image.env[i].key))
			ml_json_set_str(env, cfg->image.env[i].key, cfg->image.env[i].value);
	for (i = 0; i < c->nenv; i++)
		ml_json_set_str(env, c->env[i].key, c->env[i].value);
	ml_json_set_str(env, MARK_ENV, MARK_VALUE);
	ml_json_set(b, "envVariables", env);
	if (c->service_account)
		ml_json_set_str(b, "serviceAccount", c->service_account);
	if (rc < 0) {
		ml_json_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* "ml-" + 12 hex of the digest + "-" + 7 hex of the settings: the same image with
 * the same settings is the same version. */
static char *version_id(const char *digest, const ml_json *body)
{
	char hash[ML_DIGEST_LEN];
	struct ml_buf b;
	char *id;

	ml_buf_init(&b, 0);
	ml_json_dump(body, &b);
	ml_sha256_digest(b.data, b.len, hash);
	ml_buf_dispose(&b);
	id = ml_asprintf("ml-%.12s-%.7s", ml_digest_hex(digest), ml_digest_hex(hash));
	return id;
}

/* ---- plan, deploy, release, abort ---- */

static void plan_steps(struct gae *a, struct gae_plan *ap, struct ml_plan *plan)
{
	char *url;

	if (!ap->exists) {
		url = ml_asprintf("%s/versions", a->svc);
		ml_plan_add(plan, ap->new_service ? "create the version (a new service: it gets the "
			    "traffic at once)" : "create the version, without traffic", "POST", url,
			    ml_json_deep_copy(ap->body), 1);
		free(url);
	} else if (ap->stopped) {
		url = ml_asprintf("%s/versions/%s?updateMask=servingStatus", a->svc, ap->version);
		ml_plan_add(plan, "start the stopped version", "PATCH", url, NULL, 1);
		free(url);
	}
	ml_plan_add(plan, "wait for the operation", "GET", "/v1/apps/{app}/operations/{operation}",
		    NULL, 0);
	ml_plan_add(plan, "check health.path on the version's own URL", "GET", "{versionUrl}",
		    NULL, 0);
	if (ap->no_traffic)
		return;
	url = ml_asprintf("%s?updateMask=split", a->svc);
	ml_plan_add(plan, "move the traffic", "PATCH", url,
		    split_body(ap->version, ap->percent, ap->previous), 1);
	free(url);
	if (ap->stop_previous && ap->previous && ap->percent >= 100) {
		url = ml_asprintf("%s/versions/%s?updateMask=servingStatus", a->svc, ap->previous);
		ml_plan_add(plan, "stop the versions that no longer serve (--stop-previous)", "PATCH",
			    url, NULL, 1);
		free(url);
	}
}

static int gae_plan(struct ml_gcp *g, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err)
{
	struct gae *a = g->target_state;
	struct gae_plan *ap = ml_calloc(1, sizeof(*ap));
	ml_json *app = NULL, *svc = NULL;
	const ml_json *mine, *prev;
	const char *main;
	int rc;

	plan->priv = ap;
	plan->priv_free = gae_plan_free;
	if (!req->image)
		return ml_error_set(err, ML_ECONFIG, "%s: App Engine runs images from a registry: set "
				    "image.repository", g->ctx->cfg->path);
	ap->digest = ml_strdup(req->digest);
	ap->percent = req->traffic > 0 && req->traffic < 100 ? req->traffic : 100;
	ap->stop_previous = req->stop_previous;
	ap->no_traffic = req->no_traffic;
	rc = version_body(a, req, &ap->body, err);
	if (rc == 0)
		rc = load_app(a, &app, err);
	if (rc == 0)
		rc = get(a, a->svc, &svc, err);
	if (rc == 0 && svc)
		rc = list_versions(a, &ap->versions, err);
	if (rc < 0)
		goto out;
	if (!ap->versions)
		ap->versions = ml_json_array_new();
	where_it_runs(a, app);
	ap->service_url = service_url(a, app);
	ap->version = version_id(req->digest, ap->body);
	ml_json_set_str(ap->body, "id", ap->version);
	ap->new_service = !svc;
	mine = find_version(ap->versions, ap->version);
	ap->exists = mine != NULL;
	ap->stopped = mine && !is_serving(mine);
	main = svc ? main_version(svc) : NULL;
	plan->live = main != NULL;
	if (main && strcmp(main, ap->version)) {
		ap->previous = ml_strdup(main);
		prev = find_version(ap->versions, main);
		if (version_digest(prev) && strcmp(version_digest(prev), req->digest))
			ap->previous_digest = ml_strdup(version_digest(prev));
	}
	if (main && !strcmp(main, ap->version) && allocation(svc, main) > 0.999 && !ap->stopped &&
	    ap->percent == 100 && !req->no_traffic) {
		plan->noop = 1;
		plan->summary = ml_asprintf("no change: version %s of service %s already serves %s",
					    ap->version, a->service, req->digest);
		goto out;
	}
	plan_steps(a, ap, plan);
	plan->summary = ml_asprintf("%s version %s of App Engine service %s running %s",
				    ap->exists ? "reuse" : "create", ap->version, a->service,
				    req->digest);
out:
	ml_json_free(app);
	ml_json_free(svc);
	return rc;
}

static int gae_deploy(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err)
{
	struct gae *a = g->target_state;
	struct gae_plan *ap = plan->priv;
	ml_json *v = NULL;
	char *path, *what;
	int rc = 0;

	res->digest = ml_strdup(ap->digest);
	res->revision = ml_strdup(ap->version);
	res->previous_digest = ml_strdup(ap->previous_digest);
	res->url = ml_strdup(ap->service_url);
	res->changed = !plan->noop;
	if (plan->noop)
		return 0;
	if (!ap->exists) {
		path = ml_asprintf("%s/versions", a->svc);
		what = ml_asprintf("creating version %s", ap->version);
		ap->created = 1;
		rc = call_op(a, "POST", path, ap->body, 0, what, err);
		free(path);
		free(what);
	} else if (ap->stopped) {
		ap->started = 1;
		rc = set_serving(a, ap->version, 1, err);
	}
	path = ml_asprintf("%s/versions/%s", a->svc, ap->version);
	if (rc == 0)
		rc = get(a, path, &v, err);
	free(path);
	if (rc == 0 && !ml_json_get_str(v, "versionUrl"))
		rc = ml_error_set(err, ML_EPROTO, "App Engine: version %s has no versionUrl after its "
				  "creation", ap->version);
	if (rc == 0)
		res->candidate_url = ml_strdup(ml_json_get_str(v, "versionUrl"));
	ml_json_free(v);
	return rc;
}

/* After the release: the flexible versions that still run without traffic bill;
 * --stop-previous stops mldeploy's, the rest is counted in a warning. */
static int previous_versions(struct gae *a, struct gae_plan *ap, struct ml_error *err)
{
	ml_json *svc = NULL;
	size_t i, left = 0, stopped = 0;
	int rc = get(a, a->svc, &svc, err);

	for (i = 0; rc == 0 && i < ml_json_size(ap->versions); i++) {
		const ml_json *v = ml_json_at(ap->versions, i);

		if (!vid(v) || !strcmp(vid(v), ap->version) || !is_flex(v) || !is_serving(v) ||
		    allocation(svc, vid(v)) > 0)
			continue;
		if (ap->stop_previous && is_ours(v)) {
			rc = set_serving(a, vid(v), 0, err);
			stopped += rc == 0;
		} else {
			left++;
		}
	}
	ml_json_free(svc);
	if (stopped)
		ml_log(ML_LOG_INFO, "stopped %zu version(s) of service %s that no longer serve",
		       stopped, a->service);
	if (rc == 0 && left)
		ml_log(ML_LOG_WARN, "%zu older App Engine flexible version(s) of service %s keep "
		       "running without traffic, and billing: deploy with --stop-previous, or `gcloud "
		       "app versions stop --service=%s VERSION`", left, a->service, a->service);
	return rc;
}

static int gae_release(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err)
{
	struct gae *a = g->target_state;
	struct gae_plan *ap = plan->priv;
	int rc = set_split(a, ap->version, ap->percent, ap->previous, err);

	if (rc == 0 && !res->url)
		res->url = ml_strdup(ap->service_url);
	if (rc == 0)
		rc = previous_versions(a, ap, err);
	return rc;
}

/* What the deploy made goes again: the new version (or the whole new service, as
 * App Engine deletes no version that has traffic); a started one is stopped. */
static int gae_abort(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		     struct ml_error *err)
{
	struct gae *a = g->target_state;
	struct gae_plan *ap = plan->priv;

	(void)res;
	if (ap->started)
		return set_serving(a, ap->version, 0, err);
	if (!ap->created)
		return 0;
	if (!ap->new_service)
		return delete_version(a, ap->version, err);
	if (strcmp(a->service, "default"))
		return delete_service(a, err);
	ml_log(ML_LOG_WARN, "App Engine keeps the default service's only version %s: stopped "
	       "instead of deleted", ap->version);
	return set_serving(a, ap->version, 0, err);
}

/* ---- status, rollback, destroy ---- */

static ml_json *version_json(const ml_json *v, const ml_json *svc)
{
	ml_json *o = ml_json_object_new();

	ml_json_set_str(o, "id", vid(v));
	ml_json_set_str(o, "serving_status", ml_json_get_str(v, "servingStatus") ?
			ml_json_get_str(v, "servingStatus") : "SERVING");
	ml_json_set(o, "traffic", ml_json_real_new(allocation(svc, vid(v))));
	if (version_digest(v))
		ml_json_set_str(o, "digest", version_digest(v));
	if (ml_json_get_str(v, "createTime"))
		ml_json_set_str(o, "created", ml_json_get_str(v, "createTime"));
	if (ml_json_get_str(v, "versionUrl"))
		ml_json_set_str(o, "url", ml_json_get_str(v, "versionUrl"));
	ml_json_set(o, "managed", ml_json_bool_new(is_ours(v)));
	return o;
}

static int gae_status(struct ml_gcp *g, struct ml_deploy_result *res, struct ml_error *err)
{
	struct gae *a = g->target_state;
	ml_json *app = NULL, *svc = NULL, *versions = NULL, *x, *arr;
	const char *main;
	size_t i;
	int rc = load_app(a, &app, err);

	if (rc == 0)
		rc = get(a, a->svc, &svc, err);
	if (rc == 0 && !svc)
		res->state = ml_strdup("absent");
	if (rc == 0 && svc)
		rc = list_versions(a, &versions, err);
	if (rc < 0 || !svc)
		goto out;
	main = main_version(svc);
	res->url = service_url(a, app);
	res->state = ml_strdup(main ? "serving" : "no traffic");
	res->revision = ml_strdup(main);
	res->digest = ml_strdup(version_digest(find_version(versions, main)));
	x = ml_json_object_new();
	ml_json_set_str(x, "service", a->service);
	arr = ml_json_array_new();
	for (i = 0; i < ml_json_size(versions); i++)
		ml_json_append(arr, version_json(ml_json_at(versions, i), svc));
	ml_json_set(x, "versions", arr);
	res->extra = x;
	if (res->url && main) {
		struct ml_health_opts ho = { .base_url = res->url, .path = g->ctx->cfg->health.path,
					     .timeout_s = 5 };
		struct ml_error herr = { 0 };

		ml_health_check(&ho, &res->health, &herr);
	}
out:
	ml_json_free(app);
	ml_json_free(svc);
	ml_json_free(versions);
	return rc;
}

/* The newest of mldeploy's versions created before the one that serves now. */
static const ml_json *rollback_target(const ml_json *versions, const ml_json *current)
{
	const char *now = ml_json_get_str(current, "createTime");
	const ml_json *best = NULL;
	size_t i;

	for (i = 0; now && i < ml_json_size(versions); i++) {
		const ml_json *v = ml_json_at(versions, i);
		const char *t = ml_json_get_str(v, "createTime");

		if (v == current || !is_ours(v) || !t || strcmp(t, now) >= 0)
			continue;
		if (!best || strcmp(t, ml_json_get_str(best, "createTime")) > 0)
			best = v;
	}
	return best;
}

static int gae_rollback(struct ml_gcp *g, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err)
{
	struct gae *a = g->target_state;
	ml_json *app = NULL, *svc = NULL, *versions = NULL;
	const ml_json *cur, *back;
	const char *main;
	int rc = load_app(a, &app, err);

	if (rc == 0)
		rc = get(a, a->svc, &svc, err);
	if (rc == 0 && !svc)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s is not deployed on App Engine (no service "
				  "%s in project %s)", g->ctx->service, a->service, g->project);
	if (rc == 0)
		rc = list_versions(a, &versions, err);
	if (rc < 0)
		goto out;
	main = main_version(svc);
	cur = find_version(versions, main);
	back = cur ? rollback_target(versions, cur) : NULL;
	if (!back) {
		rc = ml_error_set(err, ML_ENOTFOUND, "nothing to roll back to: no version of service "
				  "%s older than %s was made by mldeploy", a->service,
				  main ? main : "the serving one");
		goto out;
	}
	if (!is_serving(back))
		rc = set_serving(a, vid(back), 1, err);
	if (rc == 0 && ml_json_get_str(back, "versionUrl")) {
		struct ml_health_opts ho = { .base_url = ml_json_get_str(back, "versionUrl"),
					     .path = req->health_path, .timeout_s = req->timeout_s,
					     .interrupted = g->ctx->interrupted };

		rc = ml_health_check(&ho, &res->health, err);
		if (rc < 0)
			ml_error_prefix(err, "version %s is not healthy; traffic stays on %s", vid(back),
					main);
	}
	if (rc == 0)
		rc = set_split(a, vid(back), 100, NULL, err);
	if (rc < 0)
		goto out;
	if (is_flex(cur) && is_serving(cur))
		ml_log(ML_LOG_WARN, "version %s of service %s keeps running without traffic, and "
		       "billing: `gcloud app versions stop --service=%s %s` stops it", vid(cur),
		       a->service, a->service, vid(cur));
	res->changed = 1;
	res->revision = ml_strdup(vid(back));
	res->digest = ml_strdup(version_digest(back));
	res->previous_digest = ml_strdup(version_digest(cur));
	res->url = service_url(a, app);
	res->state = ml_strdup("serving");
	if (res->url) {
		struct ml_health_opts ho = { .base_url = res->url, .path = req->health_path,
					     .timeout_s = req->timeout_s,
					     .interrupted = g->ctx->interrupted };

		free(res->health.url);
		free(res->health.detail);
		rc = ml_health_check(&ho, &res->health, err);
	}
out:
	ml_json_free(app);
	ml_json_free(svc);
	ml_json_free(versions);
	return rc;
}

/* mldeploy's versions; the service itself when nothing else is in it (never
 * default, which App Engine keeps). One that still has traffic beside versions of
 * others stays, and says so. */
static int destroy_versions(struct gae *a, ml_json *svc, const ml_json *versions,
			    struct ml_deploy_result *res, struct ml_error *err)
{
	size_t i, ours = 0, others = 0;
	const char *kept = NULL;
	int rc = 0;

	for (i = 0; i < ml_json_size(versions); i++)
		is_ours(ml_json_at(versions, i)) ? ours++ : others++;
	if (!ours)
		return 0;
	if (!others && strcmp(a->service, "default")) {
		rc = delete_service(a, err);
		if (rc == 0)
			ml_deploy_result_removed(res, "service", a->service);
		for (i = 0; rc == 0 && i < ml_json_size(versions); i++)
			ml_deploy_result_removed(res, "version", vid(ml_json_at(versions, i)));
		return rc;
	}
	for (i = 0; rc == 0 && i < ml_json_size(versions); i++) {
		const ml_json *v = ml_json_at(versions, i);

		if (!is_ours(v))
			continue;
		if (allocation(svc, vid(v)) > 0) {
			kept = vid(v);
			continue;
		}
		rc = delete_version(a, vid(v), err);
		if (rc == 0)
			ml_deploy_result_removed(res, "version", vid(v));
	}
	if (rc < 0 || !kept)
		return rc;
	if (others)
		return ml_error_set(err, ML_ECONFLICT, "version %s still has traffic in service %s, "
				    "which holds versions mldeploy did not make: move the traffic "
				    "(`gcloud app services set-traffic %s --splits=VERSION=1`), then "
				    "destroy again", kept, a->service, a->service);
	rc = set_serving(a, kept, 0, err);
	if (rc == 0)
		ml_log(ML_LOG_WARN, "App Engine keeps the default service and its last version %s: "
		       "stopped, not deleted (it no longer bills for instances)", kept);
	return rc;
}

static int gae_destroy(struct ml_gcp *g, const struct ml_deploy_request *req,
		       struct ml_deploy_result *res, struct ml_error *err)
{
	struct gae *a = g->target_state;
	ml_json *svc = NULL, *versions = NULL;
	int rc = get(a, a->svc, &svc, err);

	(void)req;
	res->removed = ml_json_array_new();
	res->state = ml_strdup("absent");
	if (rc == 0 && svc)
		rc = list_versions(a, &versions, err);
	if (rc == 0 && svc)
		rc = destroy_versions(a, svc, versions, res, err);
	ml_json_free(svc);
	ml_json_free(versions);
	return rc;
}

/* ---- render ---- */

static void copy_member(ml_json *to, const char *key, const ml_json *from, const char *from_key)
{
	ml_json *v = ml_json_get(from, from_key);

	if (v)
		ml_json_set(to, key, ml_json_deep_copy(v));
}

/* The version's settings as app.yaml writes them, for `gcloud app deploy
 * --image-url=IMAGE` (the image itself is not in app.yaml). */
static ml_json *app_yaml(const struct gae *a, const ml_json *body)
{
	ml_json *y = ml_json_object_new(), *o, *env;
	const ml_json *r = ml_json_get(body, "resources");
	const ml_json *as = ml_json_get(body, "automaticScaling");
	const ml_json *ms = ml_json_get(body, "manualScaling");

	ml_json_set_str(y, "runtime", "custom");
	ml_json_set_str(y, "env", "flex");
	ml_json_set_str(y, "service", a->service);
	if (ml_json_get_str(body, "serviceAccount"))
		ml_json_set_str(y, "service_account", ml_json_get_str(body, "serviceAccount"));
	if (r) {
		o = ml_json_object_new();
		copy_member(o, "cpu", r, "cpu");
		copy_member(o, "memory_gb", r, "memoryGb");
		ml_json_set(y, "resources", o);
	}
	if (ms) {
		o = ml_json_object_new();
		copy_member(o, "instances", ms, "instances");
		ml_json_set(y, "manual_scaling", o);
	} else if (as) {
		o = ml_json_object_new();
		copy_member(o, "min_num_instances", as, "minTotalInstances");
		copy_member(o, "max_num_instances", as, "maxTotalInstances");
		ml_json_set(y, "automatic_scaling", o);
	}
	o = ml_json_object_new();
	copy_member(o, "path", ml_json_get(body, "livenessCheck"), "path");
	ml_json_set(y, "liveness_check", o);
	o = ml_json_object_new();
	copy_member(o, "path", ml_json_get(body, "readinessCheck"), "path");
	ml_json_set(y, "readiness_check", o);
	env = ml_json_deep_copy(ml_json_get(body, "envVariables"));
	ml_json_set(env, MARK_ENV, NULL);	/* gcloud deploys it, not mldeploy */
	if (ml_json_size(env))
		ml_json_set(y, "env_variables", env);
	else
		ml_json_free(env);
	return y;
}

static int gae_render(struct ml_gcp *g, const struct ml_deploy_request *req, const char *file,
		      struct ml_buf *out, struct ml_error *err)
{
	struct gae *a = g->target_state;
	ml_json *body = NULL, *y;
	int rc;

	if (strcmp(file, "app.yaml"))
		return ml_error_set(err, ML_ENOTFOUND, "gcp: App Engine has no platform file '%s' "
				    "(it renders app.yaml)", file);
	rc = version_body(a, req, &body, err);
	if (rc < 0)
		return rc;
	y = app_yaml(a, body);
	rc = ml_yaml_write(y, out, err);
	if (rc == 0)
		ml_log(ML_LOG_INFO, "deploy it with: gcloud app deploy app.yaml --project=%s "
		       "--image-url=%s", g->project, req->image ? req->image : "IMAGE");
	ml_json_free(y);
	ml_json_free(body);
	return rc;
}

const struct ml_gcp_target_ops ml_gcp_appengine_ops = {
	.name = "appengine",
	.init = gae_init,
	.cleanup = gae_cleanup,
	.plan = gae_plan,
	.deploy = gae_deploy,
	.release = gae_release,
	.abort = gae_abort,
	.status = gae_status,
	.rollback = gae_rollback,
	.destroy = gae_destroy,
	.render = gae_render,
};
