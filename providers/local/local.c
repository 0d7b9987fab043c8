/* The local provider: the image runs on a Docker-compatible engine (Docker, or
 * `podman system service`) through the Engine API. A release is health-gated: the
 * new container first answers on a port of its own; only when its check passes does
 * it replace the serving one, and a failing one is removed with the old one untouched. */
#include "local/local.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy/health.h"
#include "local/engine.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wrap/digest.h"

#define LABEL_MANAGED "managed-by"
#define LABEL_SERVICE "mldeploy.service"
#define LABEL_ROLE "mldeploy.role"
#define LABEL_DIGEST "mldeploy.digest"
#define LABEL_IMAGE "mldeploy.image"
#define LABEL_SETTINGS "mldeploy.settings"
#define LABEL_REVISION "mldeploy.revision"
#define LABEL_PREV_DIGEST "mldeploy.previous.digest"
#define LABEL_PREV_IMAGE "mldeploy.previous.image"
#define RELEASE_HEALTH_S 60

struct local {
	const struct ml_deploy_ctx *ctx;
	const struct ml_local_conf *conf;
	struct ml_engine engine;
	char *service;
	char *url_host;		/* where published ports answer */
};

/* What a plan found and decided; deploy, release and abort carry it out. */
struct local_plan {
	char *serving_id;		/* the container serving now, or NULL */
	char *serving_digest, *serving_image;
	char **stale;			/* candidates left by an interrupted run */
	size_t nstale;
	int load;			/* the engine lacks the image */
	ml_json *create;		/* the candidate's create body */
	ml_json *final;			/* the serving container's body (NULL: the candidate serves) */
	char *candidate_name;
	char *candidate_id;		/* set by deploy */
	char *digest, *image;
	int host_port;			/* the service's port on the host */
	int container_port;		/* image.port */
	int no_wait;			/* --no-wait: release without checking */
	long timeout_s;			/* health-check deadline */
	char *old_image;		/* the image two revisions back: unused once released */
};

static void local_plan_dispose(struct local_plan *lp)
{
	free(lp->serving_id);
	free(lp->serving_digest);
	free(lp->serving_image);
	ml_free_strings(lp->stale, lp->nstale);
	ml_json_free(lp->create);
	ml_json_free(lp->final);
	free(lp->candidate_name);
	free(lp->candidate_id);
	free(lp->digest);
	free(lp->image);
	free(lp->old_image);
	memset(lp, 0, sizeof(*lp));
}

static void local_plan_free(void *p)
{
	local_plan_dispose(p);
	free(p);
}

static int local_init(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err)
{
	struct local *l = ml_calloc(1, sizeof(*l));
	const struct ml_local_conf *conf = ctx->conf;
	int rc;

	l->ctx = ctx;
	l->conf = conf;
	l->service = ml_strdup(ctx->service);
	rc = ml_engine_open(&l->engine, conf ? conf->engine : NULL, err);
	if (rc < 0) {
		free(l->service);
		free(l);
		return rc;
	}
	if (conf && conf->bind && !strcmp(conf->bind, "::"))
		l->url_host = ml_strdup("::1");
	else if (conf && conf->bind && strcmp(conf->bind, "0.0.0.0"))
		l->url_host = ml_strdup(conf->bind);
	else
		l->url_host = ml_strdup(l->engine.addr);
	*state = l;
	return 0;
}

static void local_cleanup(void *state)
{
	struct local *l = state;

	if (!l)
		return;
	ml_engine_close(&l->engine);
	free(l->service);
	free(l->url_host);
	free(l);
}

static const char *label(const ml_json *labels, const char *key)
{
	return ml_json_get_str(labels, key);
}

static char *url_of(const struct local *l, int port)
{
	int v6 = strchr(l->url_host, ':') != NULL;

	return ml_asprintf("http://%s%s%s:%d", v6 ? "[" : "", l->url_host, v6 ? "]" : "", port);
}

static const char *bind_addr(const struct local *l)
{
	return l->conf && l->conf->bind ? l->conf->bind : "127.0.0.1";
}

static int host_port(const struct local *l, const struct ml_deploy_request *req)
{
	return l->conf && l->conf->port ? l->conf->port : req->port;
}

/* The container's settings: what makes two deployments the same. */
static ml_json *create_body(const struct local *l, const struct ml_deploy_request *req,
			    const char *image, int hport)
{
	ml_json *b = ml_json_object_new(), *env = ml_json_array_new(), *hc, *pb, *arr, *bind, *ports;
	char key[32], buf[32];
	size_t i;

	snprintf(key, sizeof(key), "%d/tcp", req->port);
	ml_json_set_str(b, "Image", image);
	snprintf(buf, sizeof(buf), "PORT=%d", req->port);
	ml_json_append(env, ml_json_string_new(buf));
	for (i = 0; l->conf && i < l->conf->nenv; i++) {
		char *kv = ml_asprintf("%s=%s", l->conf->env[i].key, l->conf->env[i].value);

		ml_json_append(env, ml_json_string_new(kv));
		free(kv);
	}
	ml_json_set(b, "Env", env);
	ports = ml_json_object_new();
	ml_json_set(ports, key, ml_json_object_new());
	ml_json_set(b, "ExposedPorts", ports);
	hc = ml_json_object_new();
	pb = ml_json_object_new();
	arr = ml_json_array_new();
	bind = ml_json_object_new();
	ml_json_set_str(bind, "HostIp", bind_addr(l));
	snprintf(buf, sizeof(buf), "%d", hport);
	ml_json_set_str(bind, "HostPort", hport ? buf : "");
	ml_json_append(arr, bind);
	ml_json_set(pb, key, arr);
	ml_json_set(hc, "PortBindings", pb);
	bind = ml_json_object_new();
	ml_json_set_str(bind, "Name", l->conf && l->conf->restart ? l->conf->restart : "unless-stopped");
	ml_json_set(hc, "RestartPolicy", bind);
	ml_json_set(b, "HostConfig", hc);
	return b;
}

static void settings_hash(const ml_json *body, char out[ML_DIGEST_LEN])
{
	struct ml_buf b;

	ml_buf_init(&b, 0);
	ml_json_dump(body, &b);
	ml_sha256_digest(b.data, b.len, out);
	ml_buf_dispose(&b);
}

/* hash: the settings of the serving form of the container (its port included), so
 * that a changed port or address is a change while a candidate's port is not. */
static void set_labels(const struct local *l, ml_json *body, const struct ml_deploy_request *req,
		       const char *role, const struct local_plan *lp, const char *hash)
{
	ml_json *labels = ml_json_object_new();

	ml_json_set_str(labels, LABEL_MANAGED, "mldeploy");
	ml_json_set_str(labels, LABEL_SERVICE, l->service);
	ml_json_set_str(labels, LABEL_ROLE, role);
	ml_json_set_str(labels, LABEL_DIGEST, req->digest);
	ml_json_set_str(labels, LABEL_IMAGE, req->config_digest);
	ml_json_set_str(labels, LABEL_SETTINGS, hash);
	if (req->revision)
		ml_json_set_str(labels, LABEL_REVISION, req->revision);
	if (lp && lp->serving_digest && strcmp(lp->serving_digest, req->digest)) {
		ml_json_set_str(labels, LABEL_PREV_DIGEST, lp->serving_digest);
		ml_json_set_str(labels, LABEL_PREV_IMAGE, lp->serving_image);
	}
	ml_json_set(body, "Labels", labels);
}

static int list_ours(struct local *l, ml_json **out, struct ml_error *err)
{
	char *svc = ml_asprintf(LABEL_SERVICE "=%s", l->service);
	const char *labels[] = { LABEL_MANAGED "=mldeploy", svc };
	int rc = ml_engine_list(&l->engine, labels, 2, out, err);

	free(svc);
	return rc;
}

static const char *container_name(const ml_json *c)
{
	const ml_json *names = ml_json_get(c, "Names");
	const char *n = names ? ml_json_str(ml_json_at(names, 0)) : NULL;

	return n && n[0] == '/' ? n + 1 : n;
}

/* Fills the serving container and the stale candidates from the list. */
static void sort_containers(const ml_json *list, struct local_plan *lp, ml_json **serving_out)
{
	size_t i;

	*serving_out = NULL;
	for (i = 0; i < ml_json_size(list); i++) {
		ml_json *c = ml_json_at(list, i);
		const ml_json *labels = ml_json_get(c, "Labels");
		const char *role = label(labels, LABEL_ROLE), *id = ml_json_get_str(c, "Id");

		if (!id || !role)
			continue;
		if (!strcmp(role, "serving") && !*serving_out) {
			*serving_out = c;
			lp->serving_id = ml_strdup(id);
			lp->serving_digest = ml_strdup(label(labels, LABEL_DIGEST));
			lp->serving_image = ml_strdup(label(labels, LABEL_IMAGE));
			lp->old_image = ml_strdup(label(labels, LABEL_PREV_IMAGE));
		} else if (!strcmp(role, "candidate") || !strcmp(role, "serving")) {
			lp->stale = ml_realloc(lp->stale, (lp->nstale + 1) * sizeof(*lp->stale));
			lp->stale[lp->nstale++] = ml_strdup(id);
		}
	}
}

/* A copy of a create body fit to print: environment values masked. */
static ml_json *masked(const ml_json *body)
{
	ml_json *copy = ml_json_deep_copy(body), *env = ml_json_get(copy, "Env");
	size_t i;

	for (i = 0; env && i < ml_json_size(env); i++) {
		const char *kv = ml_json_str(ml_json_at(env, i)), *eq = kv ? strchr(kv, '=') : NULL;

		if (eq && strncmp(kv, "PORT=", 5)) {
			char *m = ml_asprintf("%.*s=***", (int)(eq - kv), kv);

			ml_json_array_set(env, i, ml_json_string_new(m));
			free(m);
		}
	}
	return copy;
}

/* A step on path pre + name + post. */
static void add_step(struct ml_plan *plan, const char *action, const char *method,
		     const char *pre, const char *name, const char *post, const ml_json *body)
{
	char *path = ml_asprintf("%s%s%s", pre, name, post);

	ml_plan_add(plan, action, method, path, body ? masked(body) : NULL, 1);
	free(path);
}

static int local_plan_make(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
			   struct ml_error *err)
{
	struct local *l = state;
	struct local_plan *lp = ml_calloc(1, sizeof(*lp));
	ml_json *list = NULL, *serving;
	char hash[ML_DIGEST_LEN];
	const char *live_hash = NULL, *state_s = NULL;
	size_t i;
	int rc;

	plan->priv = lp;
	plan->priv_free = local_plan_free;
	lp->digest = ml_strdup(req->digest);
	lp->image = ml_strdup(req->config_digest);
	lp->host_port = host_port(l, req);
	lp->container_port = req->port;
	lp->no_wait = req->no_wait;
	lp->timeout_s = req->timeout_s ? req->timeout_s : RELEASE_HEALTH_S;
	rc = list_ours(l, &list, err);
	if (rc < 0)
		goto out;
	sort_containers(list, lp, &serving);
	if (serving) {
		live_hash = label(ml_json_get(serving, "Labels"), LABEL_SETTINGS);
		state_s = ml_json_get_str(serving, "State");
	}
	/* the serving container's body, labelled, to compare its settings */
	lp->final = create_body(l, req, req->config_digest, lp->host_port);
	settings_hash(lp->final, hash);
	set_labels(l, lp->final, req, "serving", lp, hash);
	if (serving && state_s && !strcmp(state_s, "running") && lp->serving_digest &&
	    !strcmp(lp->serving_digest, req->digest) && live_hash && !strcmp(live_hash, hash) &&
	    !lp->nstale) {
		plan->noop = 1;
		plan->summary = ml_asprintf("no change: %s already serves %s", container_name(serving),
					    req->digest);
		goto out;
	}
	rc = ml_engine_image_exists(&l->engine, req->config_digest, err);
	if (rc < 0)
		goto out;
	lp->load = !rc;
	rc = 0;
	for (i = 0; i < lp->nstale; i++)
		add_step(plan, "remove a container left by an interrupted deploy", "DELETE",
			 "/containers/", lp->stale[i], "?force=1", NULL);
	if (lp->load)
		ml_plan_add(plan, "load the image from the build cache", "POST", "/images/load", NULL, 1);
	plan->live = lp->serving_id != NULL;
	if (!lp->serving_id && !req->no_traffic) {
		/* nothing serves: the new container takes the service's port at once */
		lp->create = lp->final;
		lp->final = NULL;
		lp->candidate_name = ml_strdup(l->service);
	} else {
		lp->create = create_body(l, req, req->config_digest, 0);
		set_labels(l, lp->create, req, "candidate", lp, hash);
		lp->candidate_name = ml_asprintf("%s-next", l->service);
	}
	add_step(plan, lp->final ? "create the new container on a port of its own"
				 : "create the container", "POST", "/containers/create?name=",
		 lp->candidate_name, "", lp->create);
	ml_plan_add(plan, "start it and check its health", "POST", "/containers/{id}/start", NULL, 1);
	if (lp->final && serving) {
		char *prev = ml_asprintf("%s-previous", l->service);
		char *rename = ml_asprintf("/rename?name=%s", prev);

		add_step(plan, "rename the serving container once the new one is healthy", "POST",
			 "/containers/", container_name(serving), rename, NULL);
		add_step(plan, "stop it", "POST", "/containers/", prev, "/stop", NULL);
		add_step(plan, "create the new serving container on the service's port", "POST",
			 "/containers/create?name=", l->service, "", lp->final);
		ml_plan_add(plan, "start it and check its health", "POST", "/containers/{id}/start",
			    NULL, 1);
		add_step(plan, "remove the checked container", "DELETE", "/containers/",
			 lp->candidate_name, "?force=1", NULL);
		add_step(plan, "remove the old container", "DELETE", "/containers/", prev, "?force=1",
			 NULL);
		free(rename);
		free(prev);
	}
	plan->summary = lp->serving_id
		? ml_asprintf("replace %s (%s) with %s after its health check", l->service,
			      lp->serving_digest ? lp->serving_digest : "unknown image", req->digest)
		: ml_asprintf("create %s serving %s on port %d", l->service, req->digest, lp->host_port);
out:
	ml_json_free(list);
	return rc;
}

static int local_deploy(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
			struct ml_error *err)
{
	struct local *l = state;
	struct local_plan *lp = plan->priv;
	ml_json *info = NULL;
	size_t i;
	int rc, port;

	res->digest = ml_strdup(lp->digest);
	if (plan->noop) {
		res->url = url_of(l, lp->host_port);
		res->revision = ml_strdup(l->service);
		return 0;
	}
	res->changed = 1;
	for (i = 0; i < lp->nstale; i++) {
		rc = ml_engine_discard(&l->engine, lp->stale[i], err);
		if (rc < 0)
			return rc;
	}
	if (lp->load) {
		ml_log(ML_LOG_INFO, "loading %s into the container engine", lp->digest);
		rc = ml_engine_image_load(&l->engine, lp->digest, err);
		if (rc < 0)
			return rc;
	}
	rc = ml_engine_run(&l->engine, lp->candidate_name, lp->create, &lp->candidate_id, err);
	if (rc == -ML_ECONFLICT)
		ml_error_prefix(err, "a container named '%s' that mldeploy did not create is in the way "
				"(remove or rename it)", lp->candidate_name);
	if (rc < 0)
		return rc;
	rc = ml_engine_inspect(&l->engine, lp->candidate_id, &info, err);
	if (rc < 0)
		return rc;
	port = ml_engine_host_port(info, lp->container_port);
	ml_json_free(info);
	if (!port)
		return ml_error_set(err, ML_EPROTO, "container engine published no host port for "
				    "%d/tcp of %s", lp->container_port, lp->candidate_name);
	res->candidate_url = url_of(l, port);
	res->revision = ml_strdup(lp->candidate_name);
	return 0;
}

static void show_log_tail(struct local *l, const char *id, const char *what)
{
	char *tail = ml_engine_log_tail(&l->engine, id, 20), *line, *save = NULL;

	if (!tail)
		return;
	ml_log(ML_LOG_WARN, "last lines of the %s's log:", what);
	for (line = strtok_r(tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ml_log(ML_LOG_WARN, "  | %s", line);
	free(tail);
}

/* A container that never served goes at once; best effort, on paths where another
 * error is the one reported. */
static void quietly_discard(struct local *l, const char *id)
{
	struct ml_error ignored = { 0 };

	if (id)
		ml_engine_discard(&l->engine, id, &ignored);
}

static int check(struct local *l, const char *url, long timeout_s, struct ml_health *h,
		 struct ml_error *err)
{
	struct ml_health_opts o = { .base_url = url, .path = l->ctx->cfg->health.path,
				    .timeout_s = timeout_s, .interrupted = l->ctx->interrupted };

	free(h->url);
	free(h->detail);
	return ml_health_check(&o, h, err);
}

/* The checked candidate passed: it replaces the serving container on the service's
 * port. The old one is stopped (not removed) until the new one answers there. */
static int local_release(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
			 struct ml_error *err)
{
	struct local *l = state;
	struct local_plan *lp = plan->priv;
	char *old_name = ml_asprintf("%s-previous", l->service), *id = NULL;
	int rc;

	free(res->url);
	res->url = url_of(l, lp->host_port);
	if (plan->noop || !lp->final) {
		free(old_name);
		return 0;
	}
	rc = ml_engine_rename(&l->engine, lp->serving_id, old_name, err);
	if (rc == 0)
		rc = ml_engine_stop(&l->engine, lp->serving_id, err);
	if (rc == 0)
		rc = ml_engine_run(&l->engine, l->service, lp->final, &id, err);
	if (rc == 0 && !lp->no_wait && check(l, res->url, lp->timeout_s, &res->health, err) < 0) {
		show_log_tail(l, id, "new container");
		rc = -ML_EHEALTH;
	}
	if (rc < 0) {
		struct ml_error ignored = { 0 };

		quietly_discard(l, id);
		ml_engine_rename(&l->engine, lp->serving_id, l->service, &ignored);
		ml_engine_start(&l->engine, lp->serving_id, &ignored);
		quietly_discard(l, lp->candidate_id);
		ml_error_prefix(err, "the previous container serves again");
		goto out;
	}
	quietly_discard(l, lp->candidate_id);
	rc = ml_engine_remove(&l->engine, lp->serving_id, err);
	/* the image two revisions back is no rollback target any more */
	if (rc == 0 && lp->old_image && strcmp(lp->old_image, lp->image) &&
	    (!lp->serving_image || strcmp(lp->old_image, lp->serving_image)))
		rc = ml_engine_image_remove(&l->engine, lp->old_image, err);
	free(res->revision);
	res->revision = ml_strdup(l->service);
	res->previous_digest = ml_strdup(lp->serving_digest);
out:
	free(id);
	free(old_name);
	return rc;
}

static int local_abort(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err)
{
	struct local *l = state;
	struct local_plan *lp = plan->priv;

	int rc = 0;

	(void)res;
	if (lp->candidate_id) {
		show_log_tail(l, lp->candidate_id, "new container");
		rc = ml_engine_discard(&l->engine, lp->candidate_id, err);
	}
	/* an image this deploy loaded goes with it (the engine keeps one still in use) */
	if (rc == 0 && lp->load)
		rc = ml_engine_image_remove(&l->engine, lp->image, err);
	return rc;
}

static int64_t since(const char *rfc3339)
{
	struct tm tm = { 0 };
	const char *end;

	if (!rfc3339 || !(end = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	return (int64_t)(time(NULL) - timegm(&tm));
}

static int find_serving(struct local *l, struct local_plan *lp, ml_json **list,
			struct ml_error *err)
{
	ml_json *serving;
	int rc = list_ours(l, list, err);

	if (rc < 0)
		return rc;
	sort_containers(*list, lp, &serving);
	if (!lp->serving_id)
		return ml_error_set(err, ML_ENOTFOUND, "%s is not deployed on the container engine at "
				    "%s (mldeploy deploy --provider local)", l->service, l->engine.host);
	return 0;
}

static int local_status(void *state, struct ml_deploy_result *res, struct ml_error *err)
{
	struct local *l = state;
	struct local_plan lp = { 0 };
	ml_json *list = NULL, *info = NULL, *st, *x;
	int rc, port;

	rc = find_serving(l, &lp, &list, err);
	if (rc == -ML_ENOTFOUND) {
		res->state = ml_strdup("absent");
		rc = 0;
		goto out;
	}
	if (rc < 0 || (rc = ml_engine_inspect(&l->engine, lp.serving_id, &info, err)) < 0)
		goto out;
	st = ml_json_get(info, "State");
	res->state = ml_strdup(ml_json_get_str(st, "Status"));
	res->digest = ml_strdup(lp.serving_digest);
	res->revision = ml_strdup(l->service);
	res->previous_digest = ml_strdup(label(ml_json_get(ml_json_get(info, "Config"), "Labels"),
					       LABEL_PREV_DIGEST));
	res->uptime_s = res->state && !strcmp(res->state, "running")
		? since(ml_json_get_str(st, "StartedAt")) : -1;
	x = ml_json_object_new();
	ml_json_set_str(x, "container", lp.serving_id);
	ml_json_set_str(x, "engine", l->engine.host);
	ml_json_set_str(x, "image", lp.serving_image);
	st = ml_json_get(info, "RestartCount");
	ml_json_set(x, "restart_count", st ? ml_json_ref(st) : ml_json_int_new(0));
	res->extra = x;
	port = ml_engine_host_port(info, l->ctx->cfg->image.port ? l->ctx->cfg->image.port : 8080);
	if (port) {
		struct ml_error herr = { 0 };

		res->url = url_of(l, port);
		check(l, res->url, 5, &res->health, &herr);
	}
out:
	ml_json_free(info);
	ml_json_free(list);
	local_plan_dispose(&lp);
	return rc;
}

/* A whole gated deploy of req, for rollback: plan, start, check, release or abort. */
static int redeploy(struct local *l, const struct ml_deploy_request *req,
		    struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_plan plan;
	int rc;

	ml_plan_init(&plan);
	res->changed = 1;
	rc = local_plan_make(l, req, &plan, err);
	if (rc == 0)
		rc = local_deploy(l, &plan, res, err);
	if (rc == 0 && !plan.noop && res->candidate_url &&
	    check(l, res->candidate_url, req->timeout_s ? req->timeout_s : 120, &res->health, err) < 0) {
		struct ml_error ignored = { 0 };

		local_abort(l, &plan, res, &ignored);
		rc = -ML_EHEALTH;
	}
	if (rc == 0)
		rc = local_release(l, &plan, res, err);
	ml_plan_dispose(&plan);
	return rc;
}

static int local_rollback(void *state, const struct ml_deploy_request *req,
			  struct ml_deploy_result *res, struct ml_error *err)
{
	struct local *l = state;
	struct local_plan lp = { 0 };
	struct ml_deploy_request back = *req;
	ml_json *list = NULL, *info = NULL, *labels;
	const char *pd, *pi;
	int rc;

	rc = find_serving(l, &lp, &list, err);
	if (rc < 0 || (rc = ml_engine_inspect(&l->engine, lp.serving_id, &info, err)) < 0)
		goto out;
	labels = ml_json_get(ml_json_get(info, "Config"), "Labels");
	pd = label(labels, LABEL_PREV_DIGEST);
	pi = label(labels, LABEL_PREV_IMAGE);
	if (!pd || !pi) {
		rc = ml_error_set(err, ML_ENOTFOUND, "nothing to roll back to: %s has served only %s",
				  l->service, lp.serving_digest ? lp.serving_digest : "this image");
		goto out;
	}
	rc = ml_engine_image_exists(&l->engine, pi, err);
	if (rc == 0)
		rc = ml_error_set(err, ML_ENOTFOUND, "the image that served before (%s) is no longer "
				  "in the container engine; deploy that revision again", pd);
	if (rc < 0)
		goto out;
	back.digest = pd;
	back.config_digest = pi;
	back.revision = NULL;
	ml_log(ML_LOG_INFO, "rolling %s back from %s to %s", l->service, lp.serving_digest, pd);
	rc = redeploy(l, &back, res, err);
out:
	ml_json_free(info);
	ml_json_free(list);
	local_plan_dispose(&lp);
	return rc;
}

static int local_destroy(void *state, const struct ml_deploy_request *req,
			 struct ml_deploy_result *res, struct ml_error *err)
{
	struct local *l = state;
	ml_json *list = NULL, *images = ml_json_object_new();
	static const char *const image_labels[] = { LABEL_IMAGE, LABEL_PREV_IMAGE };
	size_t i, k;
	void *it;
	int rc;

	(void)req;
	res->removed = ml_json_array_new();
	rc = list_ours(l, &list, err);
	for (i = 0; rc == 0 && i < ml_json_size(list); i++) {
		ml_json *c = ml_json_at(list, i), *labels = ml_json_get(c, "Labels");
		const char *id = ml_json_get_str(c, "Id");

		if (!id)
			continue;
		for (k = 0; k < 2; k++)
			if (label(labels, image_labels[k]))
				ml_json_set(images, label(labels, image_labels[k]), ml_json_bool_new(1));
		rc = ml_engine_remove(&l->engine, id, err);
		if (rc == 0)
			ml_deploy_result_removed(res, "container", container_name(c) ? container_name(c) : id);
	}
	/* images only we loaded and nothing else uses (the engine refuses the others) */
	for (it = ml_json_iter(images); rc == 0 && it; it = ml_json_iter_next(images, it)) {
		const char *img = ml_json_iter_key(it);
		int exists = ml_engine_image_exists(&l->engine, img, err);

		if (exists <= 0) {
			rc = exists < 0 ? exists : 0;
			continue;
		}
		rc = ml_engine_image_remove(&l->engine, img, err);
		if (rc == 0 && ml_engine_image_exists(&l->engine, img, err) == 0)
			ml_deploy_result_removed(res, "image", img);
	}
	res->state = ml_strdup("absent");
	ml_json_free(images);
	ml_json_free(list);
	return rc;
}

/* POST the predict body to /predict of the running container. */
static int predict(struct local *l, const char *url, const char *body, struct ml_deploy_result *res,
		   struct ml_error *err)
{
	struct ml_rest_opts o = { .service = l->service, .base_url = url, .timeout_s = 60,
				  .max_retries = 1 };
	struct ml_rest_result rr;
	struct ml_rest *r = NULL;
	struct ml_error perr = { 0 };
	ml_json *answer;
	int rc;

	rc = ml_rest_new(&r, &o, err);
	if (rc < 0)
		return rc;
	rc = ml_rest_call_raw(r, "POST", "/predict", "application/json", body, strlen(body),
			      ML_REST_RAW, &rr, err);
	if (rc == 0) {
		answer = ml_json_parse(rr.resp.body.data ? rr.resp.body.data : "", rr.resp.body.len, &perr);
		if (!answer)
			answer = ml_json_string_new(ml_buf_str(&rr.resp.body));
		res->extra = ml_json_object_new();
		ml_json_set(res->extra, "predict", answer);
		ml_json_set_int(res->extra, "predict_status", rr.status);
	}
	ml_rest_result_dispose(&rr);
	ml_rest_free(r);
	return rc;
}

static int64_t exit_code(const ml_json *info)
{
	int64_t v = -1;

	ml_json_get_int(ml_json_get(info, "State"), "ExitCode", &v);
	return v;
}

/* Shows the log until Ctrl-C (success) or until the container stops by itself
 * (a failure: a serving app should not exit). */
static int follow(struct local *l, const char *id, int fd, struct ml_error *err)
{
	ml_json *info = NULL;
	int rc = ml_engine_follow_logs(&l->engine, id, fd, l->ctx->interrupted, err);

	if (rc == -ML_EINTR || (l->ctx->interrupted && *l->ctx->interrupted))
		return 0;
	if (rc < 0)
		return rc;
	if (ml_engine_inspect(&l->engine, id, &info, err) < 0)
		return ml_error_set(err, ML_EPROTO, "the container stopped");
	rc = ml_error_set(err, ML_EPROTO, "the container stopped by itself (%s, exit code %lld)",
			  ml_json_get_str(ml_json_get(info, "State"), "Status")
				  ? ml_json_get_str(ml_json_get(info, "State"), "Status") : "?",
			  (long long)exit_code(info));
	ml_json_free(info);
	return rc;
}

static int local_run(void *state, const struct ml_deploy_request *req, const struct ml_run_opts *ro,
		     struct ml_deploy_result *res, struct ml_error *err)
{
	struct local *l = state;
	char *name = ml_asprintf("%s-run-%ld", l->service, (long)getpid()), *id = NULL;
	ml_json *body = create_body(l, req, req->config_digest, ro->host_port), *info = NULL;
	ml_json *hc = ml_json_get(body, "HostConfig");
	int rc, port, loaded = 0;

	/* a foreground run never restarts, and is removed however it ends (the engine
	 * removes it too once it stops, should mldeploy itself be killed) */
	ml_json_set(hc, "RestartPolicy", NULL);
	ml_json_set(hc, "AutoRemove", ml_json_bool_new(1));
	set_labels(l, body, req, "run", NULL, "");
	res->digest = ml_strdup(req->digest);
	rc = ml_engine_image_exists(&l->engine, req->config_digest, err);
	if (rc == 0) {
		ml_log(ML_LOG_INFO, "loading %s into the container engine", req->digest);
		rc = ml_engine_image_load(&l->engine, req->digest, err);
		loaded = rc == 0;
	}
	if (rc >= 0)
		rc = ml_engine_run(&l->engine, name, body, &id, err);
	if (rc >= 0)
		rc = ml_engine_inspect(&l->engine, id, &info, err);
	if (rc < 0)
		goto out;
	port = ml_engine_host_port(info, req->port);
	if (!port) {
		rc = ml_error_set(err, ML_EPROTO, "container engine published no host port for %d/tcp",
				  req->port);
		goto out;
	}
	res->url = url_of(l, port);
	res->revision = ml_strdup(name);
	rc = check(l, res->url, req->timeout_s ? req->timeout_s : 120, &res->health, err);
	if (rc < 0) {
		show_log_tail(l, id, "container");
		goto out;
	}
	if (ro->ready)
		ro->ready(ro->ud, res->url);
	if (ro->predict)
		rc = predict(l, res->url, ro->predict, res, err);
	else
		rc = follow(l, id, ro->log_fd, err);
out:
	if (id) {
		struct ml_error rerr = { 0 };
		int rrc = ml_engine_remove(&l->engine, id, &rerr);

		if (rrc == 0 && loaded)
			rrc = ml_engine_image_remove(&l->engine, req->config_digest, &rerr);
		if (rrc < 0 && rc == 0) {
			*err = rerr;
			rc = rrc;
		}
	}
	ml_json_free(info);
	ml_json_free(body);
	free(id);
	free(name);
	return rc;
}

static int local_api_calls(void *state, int *mutations)
{
	struct local *l = state;

	return ml_engine_calls(&l->engine, mutations);
}

static const char *const local_targets[] = { "container", NULL };

const struct ml_provider ml_provider_local = {
	.name = "local",
	.summary = "a Docker-compatible engine on this machine (Docker, podman system service)",
	.targets = local_targets,
	.caps = ML_PROVIDER_CONFIG | ML_PROVIDER_DEPLOY | ML_PROVIDER_GATED | ML_PROVIDER_RUN,
	.config_keys = ml_local_config_keys,
	.config_parse = ml_local_config_parse,
	.config_free = ml_local_config_free,
	.config_json = ml_local_config_json,
	.init = local_init,
	.cleanup = local_cleanup,
	.plan = local_plan_make,
	.deploy = local_deploy,
	.release = local_release,
	.abort = local_abort,
	.status = local_status,
	.rollback = local_rollback,
	.destroy = local_destroy,
	.run = local_run,
	.api_calls = local_api_calls,
};
