/* Cloud Run (Admin API v2): the service by digest, a new revision held back behind
 * a tag until the core's health check passes, then the traffic moved; IAM for
 * allUsers; status, rollback to an older ready revision, destroy. */
#include "gcp/gcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy/health.h"
#include "deploy/poll.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "wrap/digest.h"

#define RUN_URL "https://run.googleapis.com"
#define LABEL_MANAGED "managed-by"
#define ANN_SETTINGS "mldeploy.dev/settings"
#define ANN_GIT "mldeploy.dev/git-revision"
#define TAG_PREFIX "ml-"
#define INVOKER "roles/run.invoker"
#define ALL_USERS "allUsers"
#define OPERATION_TIMEOUT_S 900
#define IAM_ATTEMPTS 5
#define POLL_MAX_MS 2000	/* a revision is ready in seconds: look often, as gcloud does */
#define REVISION_LATEST "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
#define REVISION_PINNED "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"

struct run {
	struct ml_gcp *g;
	struct ml_rest *api;
	char *parent;		/* projects/P/locations/R */
	char *name;		/* projects/P/locations/R/services/S */
};

enum run_kind { RUN_NOOP, RUN_CREATE, RUN_UPDATE, RUN_RELEASE };

/* What a plan found; deploy, release and abort carry it out. */
struct run_plan {
	enum run_kind kind;
	ml_json *body;		/* the service to POST or PATCH (RUN_CREATE, UPDATE, RELEASE) */
	ml_json *before;	/* the traffic as it was, pinned to revisions */
	ml_json *live;		/* the service as the plan found it, or NULL */
	char *revision;		/* the candidate revision */
	char *tag;		/* its tag while it has no traffic */
	char *digest, *previous_digest;
	int percent;		/* what the candidate gets on release */
	int iam;		/* 1: add allUsers, -1: remove it, 0: as it is */
	long timeout_s;
	int created, patched;	/* what deploy did (abort undoes it) */
};

static void run_plan_free(void *p)
{
	struct run_plan *rp = p;

	ml_json_free(rp->body);
	ml_json_free(rp->before);
	ml_json_free(rp->live);
	free(rp->revision);
	free(rp->tag);
	free(rp->digest);
	free(rp->previous_digest);
	free(rp);
}

/* Cloud Run service names: lower-case letters, digits and '-', a letter first, no
 * '-' last, at most 49 characters. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 49 && s[0] >= 'a' && s[0] <= 'z' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Names Cloud Run sets itself and refuses in a template. */
static int reserved_env(const char *name)
{
	return !strcmp(name, "PORT") || !strcmp(name, "K_SERVICE") || !strcmp(name, "K_REVISION") ||
	       !strcmp(name, "K_CONFIGURATION");
}

static int check_env_names(const struct ml_gcp *g, struct ml_error *err)
{
	size_t i;

	for (i = 0; i < g->conf->nenv; i++)
		if (reserved_env(g->conf->env[i].key))
			return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.env: Cloud Run sets '%s' "
					    "itself and refuses it in a service", g->ctx->cfg->path,
					    g->conf->env[i].key);
	return 0;
}

/* us-east1, europe-west4, northamerica-northeast1: words and a number. */
static int region_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	if (!n || s[n] != '-')
		return 0;
	s += n + 1;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz");
	return n && strspn(s + n, "0123456789") && !s[n + strspn(s + n, "0123456789")];
}

static int run_init(struct ml_gcp *g, struct ml_error *err)
{
	const char *path = g->ctx->cfg->path;
	struct run *r;
	int rc;

	if (!g->conf->region || !*g->conf->region)
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.region is required for Cloud "
				    "Run (the service's region, e.g. us-east1)", path);
	if (!name_ok(g->ctx->service))
		return ml_error_set(err, ML_ECONFIG, "%s: name '%s' cannot name a Cloud Run service "
				    "(lower-case letters, digits and '-', starting with a letter, at "
				    "most 49 characters)", path, g->ctx->service);
	if (!region_ok(g->conf->region))
		return ml_error_set(err, ML_ECONFIG, "%s: deploy.gcp.region '%s' is not a Google Cloud "
				    "region (such as us-east1 or europe-west4)", path, g->conf->region);
	rc = check_env_names(g, err);
	if (rc < 0)
		return rc;
	r = ml_calloc(1, sizeof(*r));
	r->g = g;
	r->parent = ml_asprintf("projects/%s/locations/%s", g->project, g->conf->region);
	r->name = ml_asprintf("%s/services/%s", r->parent, g->ctx->service);
	g->target_state = r;
	rc = ml_gcp_client(g, "RUN", "Cloud Run", RUN_URL, &r->api, err);
	return rc;
}

static void run_cleanup(struct ml_gcp *g)
{
	struct run *r = g->target_state;

	if (!r)
		return;
	free(r->parent);
	free(r->name);
	free(r);
	g->target_state = NULL;
}

/* GET v2/NAME; *out NULL when it does not exist. */
static int get(struct run *r, const char *name, ml_json **out, struct ml_error *err)
{
	struct ml_rest_result res;
	char *p = ml_asprintf("/v2/%s", name);
	int rc = ml_rest_call(r->api, "GET", p, NULL, ML_REST_ALLOW_404, &res, err);

	*out = rc == 0 && res.status != 404 ? ml_json_ref(res.body) : NULL;
	ml_rest_result_dispose(&res);
	free(p);
	return rc;
}

/* ---- the operation ---- */

struct op {
	struct run *r;
	const char *name;
	const char *what;
};

static int look_at_operation(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct op *op = ud;
	ml_json *o = NULL;
	const ml_json *e;
	int rc = get(op->r, op->name, &o, err);

	if (rc == 0 && !o)
		rc = ml_error_set(err, ML_EPROTO, "Cloud Run: operation %s is gone", op->name);
	if (rc < 0)
		return rc;
	snprintf(step->progress, sizeof(step->progress), "%s: %s", op->what,
		 ml_json_is_true(ml_json_get(o, "done")) ? "done" : "in progress");
	if (!ml_json_is_true(ml_json_get(o, "done"))) {
		ml_json_free(o);
		return ML_POLL_PENDING;
	}
	e = ml_json_get(o, "error");
	if (e) {
		const char *msg = ml_json_get_str(e, "message");
		size_t len = msg ? strlen(msg) : 0;
		int64_t code = 0;

		ml_json_get_int(e, "code", &code);
		while (len && (msg[len - 1] == '.' || msg[len - 1] == ' '))
			len--;
		ml_error_set(err, ML_EPROTO, "Cloud Run: %s failed: %.*s (code %lld)", op->what,
			     (int)len, msg ? msg : "no detail", (long long)code);
		rc = ML_POLL_FAILED;
	} else {
		rc = ML_POLL_DONE;
	}
	ml_json_free(o);
	return rc;
}

/* Waits for the long-running operation a call answered with. */
static int wait_operation(struct run *r, const ml_json *operation, const char *what,
			  long timeout_s, struct ml_error *err)
{
	struct op op = { r, ml_json_get_str(operation, "name"), what };
	struct ml_poll_opts po = { .what = what, .initial_ms = 500, .max_ms = POLL_MAX_MS,
				   .timeout_s = timeout_s > 0 ? timeout_s : OPERATION_TIMEOUT_S,
				   .interrupted = r->g->ctx->interrupted };

	if (!op.name)
		return ml_error_set(err, ML_EPROTO, "Cloud Run: %s: the answer names no operation",
				    what);
	if (ml_json_is_true(ml_json_get(operation, "done")) && !ml_json_get(operation, "error"))
		return 0;
	return ml_poll(&po, look_at_operation, &op, err);
}

/* METHOD path body, then the operation it starts; *accepted (may be NULL) is set
 * once Cloud Run took the request. */
static int call_and_wait(struct run *r, const char *method, const char *path, const ml_json *body,
			 const char *what, long timeout_s, int *accepted, struct ml_error *err)
{
	struct ml_rest_result res;
	int rc = ml_rest_call(r->api, method, path, body, 0, &res, err);

	if (rc == 0 && accepted)
		*accepted = 1;
	if (rc == 0)
		rc = wait_operation(r, res.body, what, timeout_s, err);
	ml_rest_result_dispose(&res);
	return rc;
}

/* ---- the revision template ---- */

static void add_env(ml_json *arr, const char *name, const char *value)
{
	ml_json *e = ml_json_object_new();

	ml_json_set_str(e, "name", name);
	ml_json_set_str(e, "value", value);
	ml_json_append(arr, e);
}

/* NAME: "secret[:version]" as a Secret Manager reference, never a value. */
static void add_secret_env(ml_json *arr, const char *name, const char *ref)
{
	ml_json *e = ml_json_object_new(), *src = ml_json_object_new(), *key = ml_json_object_new();
	const char *colon = strrchr(ref, ':');
	char *secret = colon ? ml_strndup(ref, (size_t)(colon - ref)) : ml_strdup(ref);

	ml_json_set_str(key, "secret", secret);
	ml_json_set_str(key, "version", colon ? colon + 1 : "latest");
	ml_json_set(src, "secretKeyRef", key);
	ml_json_set_str(e, "name", name);
	ml_json_set(e, "valueSource", src);
	ml_json_append(arr, e);
	free(secret);
}

static ml_json *env_list(const struct ml_config *cfg, const struct ml_gcp_conf *c)
{
	ml_json *env = ml_json_array_new();
	size_t i;

	for (i = 0; i < cfg->image.nenv; i++) {	/* deploy.gcp's env and secrets win */
		const char *k = cfg->image.env[i].key;

		if (!reserved_env(k) && !ml_kv_has(c->env, c->nenv, k) &&
		    !ml_kv_has(c->secret_env, c->nsecret_env, k))
			add_env(env, k, cfg->image.env[i].value);
	}
	for (i = 0; i < c->nenv; i++)
		add_env(env, c->env[i].key, c->env[i].value);
	for (i = 0; i < c->nsecret_env; i++)
		add_secret_env(env, c->secret_env[i].key, c->secret_env[i].value);
	return env;
}

static ml_json *startup_probe(const char *path, int port)
{
	ml_json *p = ml_json_object_new(), *get = ml_json_object_new();

	ml_json_set_str(get, "path", path ? path : "/");
	ml_json_set_int(get, "port", port);
	ml_json_set(p, "httpGet", get);
	ml_json_set_int(p, "periodSeconds", 2);
	ml_json_set_int(p, "timeoutSeconds", 2);
	ml_json_set_int(p, "failureThreshold", 60);
	return p;
}

/* The template mldeploy wants, with the hash of its settings as an annotation (the
 * revision name is left out: it differs every time). */
static ml_json *template_body(const struct run *r, const struct ml_deploy_request *req)
{
	const struct ml_gcp_conf *c = r->g->conf;
	ml_json *t = ml_json_object_new(), *ctr = ml_json_object_new(), *arr, *port, *lim, *ann;
	char hash[ML_DIGEST_LEN];
	struct ml_buf b = ML_BUF_INIT;

	ml_json_set_str(ctr, "image", req->image);
	arr = ml_json_array_new();
	port = ml_json_object_new();
	ml_json_set_int(port, "containerPort", req->port);
	ml_json_append(arr, port);
	ml_json_set(ctr, "ports", arr);
	ml_json_set(ctr, "env", env_list(r->g->ctx->cfg, c));
	if (c->cpu || c->memory) {
		ml_json *res = ml_json_object_new();

		lim = ml_json_object_new();
		if (c->cpu)
			ml_json_set_str(lim, "cpu", c->cpu);
		if (c->memory)
			ml_json_set_str(lim, "memory", c->memory);
		ml_json_set(res, "limits", lim);
		ml_json_set(ctr, "resources", res);
	}
	ml_json_set(ctr, "startupProbe", startup_probe(req->health_path, req->port));
	arr = ml_json_array_new();
	ml_json_append(arr, ctr);
	ml_json_set(t, "containers", arr);
	if (c->min_instances > 0 || c->max_instances >= 0) {
		ml_json *s = ml_json_object_new();

		ml_json_set_int(s, "minInstanceCount", c->min_instances);
		if (c->max_instances >= 0)
			ml_json_set_int(s, "maxInstanceCount", c->max_instances);
		ml_json_set(t, "scaling", s);
	}
	if (c->concurrency)
		ml_json_set_int(t, "maxInstanceRequestConcurrency", c->concurrency);
	if (c->timeout_s) {
		char *to = ml_asprintf("%lds", c->timeout_s);

		ml_json_set_str(t, "timeout", to);
		free(to);
	}
	if (c->service_account)
		ml_json_set_str(t, "serviceAccount", c->service_account);
	ann = ml_json_object_new();
	if (req->revision)
		ml_json_set_str(ann, ANN_GIT, req->revision);
	ml_json_set(t, "annotations", ann);
	ml_json_dump(t, &b);
	ml_sha256_digest(b.data, b.len, hash);
	ml_buf_dispose(&b);
	ml_json_set_str(ann, ANN_SETTINGS, hash + 7);
	return t;
}

/* Every member of want is in have with the same value (arrays element by element):
 * what Cloud Run adds (its defaults) does not count. */
static int subset(const ml_json *want, const ml_json *have)
{
	struct ml_buf a = ML_BUF_INIT, b = ML_BUF_INIT;
	size_t i;
	int same;

	if (!have)
		return 0;
	if (ml_json_is_object(want)) {
		void *it;

		if (!ml_json_is_object(have))
			return 0;
		for (it = ml_json_iter((ml_json *)want); it; it = ml_json_iter_next((ml_json *)want, it))
			if (!subset(ml_json_iter_value(it), ml_json_get(have, ml_json_iter_key(it))))
				return 0;
		return 1;
	}
	if (ml_json_is_array(want)) {
		if (!ml_json_is_array(have) || ml_json_size(want) != ml_json_size(have))
			return 0;
		for (i = 0; i < ml_json_size(want); i++)
			if (!subset(ml_json_at(want, i), ml_json_at(have, i)))
				return 0;
		return 1;
	}
	ml_json_dump(want, &a);
	ml_json_dump(have, &b);
	same = !strcmp(ml_buf_str(&a), ml_buf_str(&b));
	ml_buf_dispose(&a);
	ml_buf_dispose(&b);
	return same;
}

/* ---- traffic ---- */

/* Revision names come as projects/P/locations/R/services/S/revisions/REV in some
 * members and as REV in others. */
static const char *short_name(const char *full)
{
	const char *slash = full ? strrchr(full, '/') : NULL;

	return slash ? slash + 1 : full;
}

static const char *digest_of(const char *image)
{
	const char *at = image ? strchr(image, '@') : NULL;

	return at ? at + 1 : NULL;
}

static const char *image_of(const ml_json *template_or_revision)
{
	return ml_json_get_str(ml_json_at(ml_json_get(template_or_revision, "containers"), 0), "image");
}

static int is_ours(const char *tag)
{
	return tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX));
}

/* The traffic as it is, each entry pinned to its revision (LATEST resolved), our
 * own tags left out and entries for one revision added up; others' tags kept. */
static ml_json *pinned_traffic(const ml_json *svc)
{
	const ml_json *st = ml_json_get(svc, "trafficStatuses");
	const char *latest = short_name(ml_json_get_str(svc, "latestReadyRevision"));
	ml_json *out = ml_json_array_new();
	size_t i, k;

	if (!st || !ml_json_size(st))
		st = ml_json_get(svc, "traffic");
	for (i = 0; st && i < ml_json_size(st); i++) {
		const ml_json *e = ml_json_at(st, i);
		const char *rev = ml_json_get_str(e, "revision");
		const char *tag = ml_json_get_str(e, "tag");
		const char *type = ml_json_get_str(e, "type");
		int64_t pct = 0;
		ml_json *t = NULL;

		ml_json_get_int(e, "percent", &pct);
		if ((!rev || !*rev) && type && !strcmp(type, REVISION_LATEST))
			rev = latest;
		if (!rev || !*rev || (!pct && (!tag || is_ours(tag))))
			continue;
		if (is_ours(tag))
			tag = NULL;
		for (k = 0; !tag && k < ml_json_size(out); k++) {
			ml_json *o = ml_json_at(out, k);

			if (!ml_json_get(o, "tag") && !strcmp(ml_json_get_str(o, "revision"), rev))
				t = o;
		}
		if (t) {
			int64_t had = 0;

			ml_json_get_int(t, "percent", &had);
			ml_json_set_int(t, "percent", had + pct);
			continue;
		}
		t = ml_json_object_new();
		ml_json_set_str(t, "type", REVISION_PINNED);
		ml_json_set_str(t, "revision", rev);
		ml_json_set_int(t, "percent", pct);
		if (tag)
			ml_json_set_str(t, "tag", tag);
		ml_json_append(out, t);
	}
	return out;
}

static int percent_of(const ml_json *traffic, const char *rev)
{
	int64_t pct, sum = 0;
	size_t i;

	for (i = 0; traffic && rev && i < ml_json_size(traffic); i++) {
		const ml_json *e = ml_json_at(traffic, i);

		if (ml_json_get_str(e, "revision") && !strcmp(ml_json_get_str(e, "revision"), rev) &&
		    ml_json_get_int(e, "percent", &pct) == 0)
			sum += pct;
	}
	return (int)sum;
}

/* The revision with the most traffic, or NULL. */
static const char *serving_revision(const ml_json *traffic)
{
	const char *best = NULL;
	int64_t pct, most = 0;
	size_t i;

	for (i = 0; traffic && i < ml_json_size(traffic); i++) {
		const ml_json *e = ml_json_at(traffic, i);

		if (ml_json_get_int(e, "percent", &pct) == 0 && pct > most) {
			most = pct;
			best = ml_json_get_str(e, "revision");
		}
	}
	return best;
}

/* before, with the candidate at percent and the others scaled to the rest; the
 * candidate is tagged when tag is given. */
static ml_json *traffic_with(const ml_json *before, const char *rev, int percent, const char *tag)
{
	ml_json *out = ml_json_array_new(), *t;
	int64_t total = 0, pct, given = 0;
	size_t i;
	int rest = 100 - percent;
	ml_json *first = NULL;

	for (i = 0; i < ml_json_size(before); i++)
		if (strcmp(ml_json_get_str(ml_json_at(before, i), "revision"), rev) &&
		    ml_json_get_int(ml_json_at(before, i), "percent", &pct) == 0)
			total += pct;
	for (i = 0; i < ml_json_size(before); i++) {
		const ml_json *e = ml_json_at(before, i);

		if (!strcmp(ml_json_get_str(e, "revision"), rev))
			continue;
		pct = 0;
		ml_json_get_int(e, "percent", &pct);
		pct = total ? pct * rest / total : 0;
		if (!pct && !ml_json_get(e, "tag"))
			continue;
		t = ml_json_deep_copy(e);
		ml_json_set_int(t, "percent", pct);
		given += pct;
		if (!first && pct)
			first = t;
		ml_json_append(out, t);
	}
	if (first && given < rest) {	/* what integer division left over */
		ml_json_get_int(first, "percent", &pct);
		ml_json_set_int(first, "percent", pct + rest - given);
	} else if (!first) {
		percent = 100;
	}
	t = ml_json_object_new();
	ml_json_set_str(t, "type", REVISION_PINNED);
	ml_json_set_str(t, "revision", rev);
	ml_json_set_int(t, "percent", percent);
	if (tag)
		ml_json_set_str(t, "tag", tag);
	ml_json_append(out, t);
	return out;
}

/* The service's writable members as they are, for a PATCH that changes only
 * what the caller then sets. */
static ml_json *writable(const ml_json *svc)
{
	static const char *const keys[] = {
		"description", "labels", "annotations", "client", "clientVersion", "ingress",
		"launchStage", "binaryAuthorization", "customAudiences", "scaling",
		"defaultUriDisabled", "template", NULL,
	};
	ml_json *b = ml_json_object_new();
	size_t i;

	for (i = 0; keys[i]; i++)
		if (ml_json_get(svc, keys[i]))
			ml_json_set(b, keys[i], ml_json_deep_copy(ml_json_get(svc, keys[i])));
	return b;
}

static void set_managed_label(ml_json *body)
{
	ml_json_set_str(ml_json_get_or_add_object(body, "labels"), LABEL_MANAGED, "mldeploy");
}

/* NAME-NNNNN-xyz as Cloud Run names revisions: the next generation and three
 * letters that differ from run to run. */
static char *revision_name(const struct run *r, const ml_json *live)
{
	const char *gen = ml_json_get_str(live, "generation");
	unsigned char h[ML_SHA256_LEN];
	char *seed = ml_asprintf("%.9f %ld %s", ml_now_s(), (long)getpid(), r->name);
	char sfx[4];
	int i;

	ml_sha256_raw(seed, strlen(seed), h);
	free(seed);
	for (i = 0; i < 3; i++)
		sfx[i] = (char)('a' + h[i] % 26);
	sfx[3] = 0;
	return ml_asprintf("%s-%05ld-%s", r->g->ctx->service, (gen ? strtol(gen, NULL, 10) : 0) + 1,
			   sfx);
}

/* ---- IAM ---- */

static int has_all_users(const ml_json *policy)
{
	const ml_json *b = ml_json_get(policy, "bindings");
	size_t i, k;

	for (i = 0; b && i < ml_json_size(b); i++) {
		const ml_json *m = ml_json_get(ml_json_at(b, i), "members");

		if (!ml_json_get_str(ml_json_at(b, i), "role") ||
		    strcmp(ml_json_get_str(ml_json_at(b, i), "role"), INVOKER) ||
		    ml_json_get(ml_json_at(b, i), "condition"))
			continue;
		for (k = 0; m && k < ml_json_size(m); k++)
			if (ml_json_str(ml_json_at(m, k)) && !strcmp(ml_json_str(ml_json_at(m, k)), ALL_USERS))
				return 1;
	}
	return 0;
}

static int get_policy(struct run *r, ml_json **out, struct ml_error *err)
{
	struct ml_rest_result res;
	/* version 3: a policy with conditions is read whole, so writing it back keeps them */
	char *p = ml_asprintf("/v2/%s:getIamPolicy?options.requestedPolicyVersion=3", r->name);
	int rc = ml_rest_call(r->api, "GET", p, NULL, 0, &res, err);

	*out = rc == 0 ? ml_json_ref(res.body) : NULL;
	if (rc == 0 && !*out)
		*out = ml_json_object_new();
	ml_rest_result_dispose(&res);
	free(p);
	return rc;
}

/* The policy with allUsers added to (add) or taken from roles/run.invoker. */
static ml_json *policy_with(const ml_json *policy, int add)
{
	ml_json *p = ml_json_deep_copy(policy), *b = ml_json_get(p, "bindings"), *nb;
	size_t i, k;

	if (!b) {
		b = ml_json_array_new();
		ml_json_set(p, "bindings", b);
	}
	nb = ml_json_array_new();
	for (i = 0; i < ml_json_size(b); i++) {
		ml_json *bind = ml_json_deep_copy(ml_json_at(b, i)), *m = ml_json_get(bind, "members");
		const char *role = ml_json_get_str(bind, "role");

		if (role && !strcmp(role, INVOKER) && !ml_json_get(bind, "condition") && m) {
			ml_json *keep = ml_json_array_new();

			for (k = 0; k < ml_json_size(m); k++)
				if (!ml_json_str(ml_json_at(m, k)) ||
				    strcmp(ml_json_str(ml_json_at(m, k)), ALL_USERS))
					ml_json_append(keep, ml_json_deep_copy(ml_json_at(m, k)));
			if (add) {
				ml_json_append(keep, ml_json_string_new(ALL_USERS));
				add = 0;
			}
			ml_json_set(bind, "members", keep);
			if (!ml_json_size(keep)) {
				ml_json_free(bind);
				continue;
			}
		}
		ml_json_append(nb, bind);
	}
	if (add) {
		ml_json *bind = ml_json_object_new(), *m = ml_json_array_new();

		ml_json_set_str(bind, "role", INVOKER);
		ml_json_append(m, ml_json_string_new(ALL_USERS));
		ml_json_set(bind, "members", m);
		ml_json_append(nb, bind);
	}
	ml_json_set(p, "bindings", nb);
	return p;
}

/* allUsers in roles/run.invoker as deploy.gcp.allow_unauthenticated says, read and
 * written with the policy's etag: a concurrent change (409 ABORTED) starts again. */
static int apply_iam(struct run *r, int add, struct ml_error *err)
{
	char *p = ml_asprintf("/v2/%s:setIamPolicy", r->name);
	int rc = 0, attempt;

	for (attempt = 1; attempt <= IAM_ATTEMPTS; attempt++) {
		struct ml_rest_result res;
		ml_json *policy = NULL, *req;

		rc = get_policy(r, &policy, err);
		if (rc < 0)
			break;
		if (has_all_users(policy) == add) {
			ml_json_free(policy);
			break;
		}
		req = ml_json_object_new();
		ml_json_set(req, "policy", policy_with(policy, add));
		ml_json_free(policy);
		ml_log(ML_LOG_INFO, "cloud run: %s allUsers %s %s on service %s", add ? "adding" : "removing",
		       add ? "to" : "from", INVOKER, r->g->ctx->service);
		rc = ml_rest_call(r->api, "POST", p, req, ML_REST_ALLOW_409, &res, err);
		ml_json_free(req);
		if (rc == 0 && res.status == 409) {
			ml_log(ML_LOG_INFO, "cloud run: the IAM policy changed meanwhile (%s): reading "
			       "it again", res.code[0] ? res.code : "409");
			rc = ml_error_set(err, ML_ECONFLICT, "Cloud Run: the IAM policy of service %s "
					  "kept changing (%d attempts): try again", r->g->ctx->service,
					  IAM_ATTEMPTS);
			ml_rest_result_dispose(&res);
			continue;
		}
		ml_rest_result_dispose(&res);
		break;
	}
	free(p);
	return rc;
}

/* ---- plan ---- */

static void plan_step(struct ml_plan *plan, const char *action, const char *method,
		      const char *path, const ml_json *body)
{
	char *url = ml_asprintf("%s/v2/%s", RUN_URL, path);

	ml_plan_add(plan, action, method, url, body ? ml_json_deep_copy(body) : NULL,
		    strcmp(method, "GET") != 0);
	free(url);
}

static int plan_iam(struct run *r, struct run_plan *rp, const ml_json *live, struct ml_plan *plan,
		    struct ml_error *err)
{
	int want = r->g->conf->allow_unauthenticated > 0, rc;
	ml_json *policy = NULL;
	char *path;

	if (r->g->conf->allow_unauthenticated < 0) {
		/* unset: whoever may invoke the service stays as it is */
		rp->iam = 0;
		return 0;
	}
	if (!live) {
		rp->iam = want;
	} else {
		rc = get_policy(r, &policy, err);
		if (rc == -ML_EAUTH && !want) {
			/* a deployer without IAM rights, and nothing to grant */
			ml_log(ML_LOG_WARN, "cannot read the IAM policy of Cloud Run service %s (%s): "
			       "whether allUsers may invoke it is left as it is", r->g->ctx->service,
			       err->msg);
			ml_error_clear(err);
			return 0;
		}
		if (rc < 0)
			return rc;
		rp->iam = has_all_users(policy) == want ? 0 : want ? 1 : -1;
		ml_json_free(policy);
	}
	if (!rp->iam)
		return 0;
	path = ml_asprintf("%s:setIamPolicy", r->name);
	plan_step(plan, rp->iam > 0 ? "let allUsers invoke the service (roles/run.invoker; "
		  "deploy.gcp.allow_unauthenticated)" : "take allUsers out of roles/run.invoker "
		  "(deploy.gcp.allow_unauthenticated is false)", "POST", path, NULL);
	free(path);
	return 0;
}

/* The digest that serves now: the template's when the serving revision is the
 * latest, else the revision's own. */
static int serving_digest(struct run *r, const ml_json *live, const ml_json *before, char **out,
			  struct ml_error *err)
{
	const char *rev = serving_revision(before);
	ml_json *revision = NULL;
	char *path;
	int rc;

	*out = NULL;
	if (!rev)
		return 0;
	if (ml_json_get_str(live, "latestCreatedRevision") &&
	    !strcmp(rev, short_name(ml_json_get_str(live, "latestCreatedRevision")))) {
		*out = ml_strdup(digest_of(image_of(ml_json_get(live, "template"))));
		return 0;
	}
	path = ml_asprintf("%s/revisions/%s", r->name, rev);
	rc = get(r, path, &revision, err);
	free(path);
	if (rc == 0 && revision)
		*out = ml_strdup(digest_of(image_of(revision)));
	ml_json_free(revision);
	return rc;
}

static int latest_ready(const ml_json *live)
{
	const char *a = ml_json_get_str(live, "latestCreatedRevision");
	const char *b = ml_json_get_str(live, "latestReadyRevision");

	return a && b && !strcmp(a, b);
}

static void plan_update(struct run *r, struct run_plan *rp, const ml_json *live, ml_json *tmpl,
			int same)
{
	char *tag;

	rp->body = writable(live);
	set_managed_label(rp->body);
	if (same) {
		rp->kind = RUN_RELEASE;
		rp->revision = ml_strdup(short_name(ml_json_get_str(live, "latestCreatedRevision")));
		ml_json_free(tmpl);
	} else {
		rp->kind = RUN_UPDATE;
		rp->revision = revision_name(r, live);
		ml_json_set_str(tmpl, "revision", rp->revision);
		ml_json_set(rp->body, "template", tmpl);
	}
	tag = ml_asprintf(TAG_PREFIX "%.7s", rp->digest + 7);
	rp->tag = tag;
	ml_json_set(rp->body, "traffic", traffic_with(rp->before, rp->revision, 0, rp->tag));
}

static int run_plan(struct ml_gcp *g, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err)
{
	struct run *r = g->target_state;
	struct run_plan *rp = ml_calloc(1, sizeof(*rp));
	ml_json *live = NULL, *tmpl;
	const char *label, *latest;
	char *path;
	int rc, same;

	plan->priv = rp;
	plan->priv_free = run_plan_free;
	if (!req->image)
		return ml_error_set(err, ML_ECONFIG, "%s: Cloud Run runs images from a registry: set "
				    "image.repository", g->ctx->cfg->path);
	rp->digest = ml_strdup(req->digest);
	rp->timeout_s = req->timeout_s;
	rp->percent = req->traffic > 0 ? req->traffic : 100;
	rc = get(r, r->name, &live, err);
	if (rc < 0)
		return rc;
	label = ml_json_get_str(ml_json_get(live, "labels"), LABEL_MANAGED);
	if (live && (!label || strcmp(label, "mldeploy"))) {
		rc = ml_error_set(err, ML_ECONFLICT, "Cloud Run service '%s' in %s was not created by "
				  "mldeploy (no managed-by: mldeploy label); choose another name or "
				  "remove it", g->ctx->service, r->parent);
		goto out;
	}
	tmpl = template_body(r, req);
	plan->live = live != NULL;
	if (!live) {
		ml_json *t = ml_json_array_new(), *e = ml_json_object_new();

		if (req->no_traffic || (req->traffic > 0 && req->traffic < 100))
			ml_log(ML_LOG_WARN, "Cloud Run service %s is new: its first revision gets all the "
			       "traffic (--no-traffic and --traffic apply from the next deploy)",
			       g->ctx->service);
		rp->kind = RUN_CREATE;
		rp->body = ml_json_object_new();
		set_managed_label(rp->body);
		ml_json_set(rp->body, "template", tmpl);
		ml_json_set_str(e, "type", REVISION_LATEST);
		ml_json_set_int(e, "percent", 100);
		ml_json_append(t, e);
		ml_json_set(rp->body, "traffic", t);
		path = ml_asprintf("%s/services?serviceId=%s", r->parent, g->ctx->service);
		plan_step(plan, "create the service (all traffic to its first revision)", "POST",
			  path, rp->body);
		free(path);
		plan->summary = ml_asprintf("create Cloud Run service %s running %s", g->ctx->service,
					    req->digest);
	} else {
		rp->before = pinned_traffic(live);
		plan->live = serving_revision(rp->before) != NULL;
		rc = serving_digest(r, live, rp->before, &rp->previous_digest, err);
		if (rc < 0) {
			ml_json_free(tmpl);
			goto out;
		}
		latest = short_name(ml_json_get_str(live, "latestCreatedRevision"));
		same = subset(tmpl, ml_json_get(live, "template")) && latest_ready(live);
		/* the same revision, not serving as asked (--no-traffic: not at all): it
		 * is tagged and checked again, without a new revision */
		if (same && percent_of(rp->before, latest) == rp->percent) {
			rp->kind = RUN_NOOP;
			rp->revision = ml_strdup(latest);
			ml_json_free(tmpl);
		} else {
			plan_update(r, rp, live, tmpl, same);
			plan_step(plan, rp->kind == RUN_UPDATE ? "update the service: a new revision, "
				  "tagged, without traffic" : "tag the latest revision (it has the same "
				  "image and settings) without changing its traffic", "PATCH", r->name,
				  rp->body);
			plan_step(plan, "wait for the operation", "GET", "{operation}", NULL);
			plan_step(plan, req->no_traffic ? "leave the traffic where it is (--no-traffic)" :
				  "after the health check of the tag's URL: move the traffic to the new "
				  "revision", "PATCH", r->name, NULL);
		}
	}
	rc = plan_iam(r, rp, live, plan, err);
	if (rc < 0)
		goto out;
	rp->live = ml_json_ref(live);
	if (rp->kind == RUN_NOOP && !rp->iam) {
		plan->noop = 1;
		plan->summary = ml_asprintf("no change: Cloud Run service %s already serves %s from "
					    "revision %s", g->ctx->service, req->digest, rp->revision);
	} else if (!plan->summary) {
		plan->summary = ml_asprintf("%s Cloud Run service %s: %s %s", rp->kind == RUN_NOOP ?
					    "update the IAM policy of" : "update", g->ctx->service,
					    rp->kind == RUN_UPDATE ? "new revision" : "revision",
					    rp->revision);
	}
out:
	ml_json_free(live);
	return rc;
}

/* ---- deploy ---- */

static const char *tag_uri(const ml_json *svc, const char *tag)
{
	const ml_json *st = ml_json_get(svc, "trafficStatuses");
	size_t i;

	for (i = 0; st && tag && i < ml_json_size(st); i++)
		if (ml_json_get_str(ml_json_at(st, i), "tag") &&
		    !strcmp(ml_json_get_str(ml_json_at(st, i), "tag"), tag))
			return ml_json_get_str(ml_json_at(st, i), "uri");
	return NULL;
}

static int fetch_service(struct run *r, ml_json **svc, struct ml_error *err)
{
	int rc = get(r, r->name, svc, err);

	if (rc == 0 && !*svc)
		rc = ml_error_set(err, ML_ENOTFOUND, "Cloud Run: service %s is gone", r->g->ctx->service);
	return rc;
}

static int run_deploy(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err)
{
	struct run *r = g->target_state;
	struct run_plan *rp = plan->priv;
	ml_json *svc = NULL;
	char *path = NULL, *what = NULL;
	int rc = 0;

	res->digest = ml_strdup(rp->digest);
	res->revision = ml_strdup(rp->revision);
	res->changed = !plan->noop;
	res->previous_digest = rp->previous_digest && strcmp(rp->previous_digest, rp->digest) ?
			       ml_strdup(rp->previous_digest) : NULL;
	if (rp->kind == RUN_CREATE) {
		path = ml_asprintf("/v2/%s/services?serviceId=%s", r->parent, g->ctx->service);
		what = ml_asprintf("creating service %s", g->ctx->service);
		ml_log(ML_LOG_INFO, "cloud run: %s in %s", what, r->parent);
		rc = call_and_wait(r, "POST", path, rp->body, what, rp->timeout_s, &rp->created, err);
		if (rc < 0 && rp->created)	/* abort deletes it */
			ml_error_prefix(err, "the new service is removed; nothing serves");
	} else if (rp->kind != RUN_NOOP) {
		path = ml_asprintf("/v2/%s", r->name);
		what = ml_asprintf("revision %s of service %s", rp->revision, g->ctx->service);
		ml_log(ML_LOG_INFO, "cloud run: %s %s, tagged %s, without traffic",
		       rp->kind == RUN_UPDATE ? "creating" : "tagging", what, rp->tag);
		rc = call_and_wait(r, "PATCH", path, rp->body, what, rp->timeout_s, &rp->patched, err);
		if (rc < 0 && rp->patched && plan->live)
			ml_error_prefix(err, "the new revision was not released; what served before "
					"still serves");
	}
	if (rc == 0 && rp->iam)
		rc = apply_iam(r, rp->iam > 0, err);
	if (rc == 0 && rp->kind == RUN_NOOP && rp->live)	/* nothing changed since the plan */
		svc = ml_json_ref(rp->live);
	else if (rc == 0)
		rc = fetch_service(r, &svc, err);
	if (rc == 0 && !ml_json_get_str(svc, "uri"))
		rc = ml_error_set(err, ML_EPROTO, "Cloud Run: service %s has no URL", g->ctx->service);
	if (rc == 0) {
		res->url = ml_strdup(ml_json_get_str(svc, "uri"));
		if (!res->revision)	/* Cloud Run named the first one */
			res->revision = ml_strdup(short_name(ml_json_get_str(svc, "latestCreatedRevision")));
		if (!rp->revision)
			rp->revision = ml_strdup(res->revision);
		if (rp->kind == RUN_CREATE)
			res->candidate_url = ml_strdup(res->url);
		else if (rp->kind != RUN_NOOP && !(res->candidate_url = ml_strdup(tag_uri(svc, rp->tag))))
			rc = ml_error_set(err, ML_EPROTO, "Cloud Run: tag %s of service %s has no URL",
					  rp->tag, g->ctx->service);
		if (res->candidate_url)
			ml_log(ML_LOG_INFO, "cloud run: revision %s answers at %s", rp->revision,
			       res->candidate_url);
	}
	ml_json_free(svc);
	free(path);
	free(what);
	return rc;
}

/* PATCH the service as it is now with the given traffic. */
static int set_traffic(struct run *r, ml_json *traffic, const char *what, long timeout_s,
		       struct ml_error *err)
{
	ml_json *svc = NULL, *body;
	char *path;
	int rc = fetch_service(r, &svc, err);

	if (rc < 0) {
		ml_json_free(traffic);
		return rc;
	}
	body = writable(svc);
	ml_json_set(body, "traffic", traffic);
	path = ml_asprintf("/v2/%s", r->name);
	rc = call_and_wait(r, "PATCH", path, body, what, timeout_s, NULL, err);
	free(path);
	ml_json_free(body);
	ml_json_free(svc);
	return rc;
}

static int run_release(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err)
{
	struct run *r = g->target_state;
	struct run_plan *rp = plan->priv;
	char *what;
	int rc;

	if (rp->kind == RUN_CREATE)
		return 0;	/* the first revision has all traffic already */
	what = ml_asprintf("moving %d%% of the traffic to revision %s", rp->percent, rp->revision);
	ml_log(ML_LOG_INFO, "cloud run: %s", what);
	rc = set_traffic(r, traffic_with(rp->before, rp->revision, rp->percent, NULL), what,
			 rp->timeout_s, err);
	free(what);
	(void)res;
	return rc;
}

static int run_abort(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		     struct ml_error *err)
{
	struct run *r = g->target_state;
	struct run_plan *rp = plan->priv;
	char *path;
	int rc = 0;

	(void)res;
	if (rp->created) {
		ml_log(ML_LOG_INFO, "cloud run: deleting service %s, which never served", g->ctx->service);
		path = ml_asprintf("/v2/%s", r->name);
		rc = call_and_wait(r, "DELETE", path, NULL, "deleting the new service", rp->timeout_s,
				   NULL, err);
		free(path);
		rp->created = 0;
	} else if (rp->patched) {
		ml_log(ML_LOG_INFO, "cloud run: traffic stays where it was; removing tag %s of "
		       "revision %s", rp->tag, rp->revision);
		rc = set_traffic(r, ml_json_deep_copy(rp->before), "removing the candidate's tag",
				 rp->timeout_s, err);
		rp->patched = 0;
	}
	return rc;
}

/* ---- status, rollback, destroy ---- */

static int list_revisions(struct run *r, ml_json **out, struct ml_error *err)
{
	char *path = ml_asprintf("/v2/%s/revisions", r->name);
	int rc;

	*out = ml_json_array_new();
	rc = ml_rest_list(r->api, path, "revisions", "nextPageToken", 0, *out, err);
	free(path);
	return rc;
}

static int condition_ok(const ml_json *obj, const char *type)
{
	const ml_json *c = ml_json_get(obj, "conditions");
	size_t i;

	for (i = 0; c && i < ml_json_size(c); i++) {
		const char *t = ml_json_get_str(ml_json_at(c, i), "type");
		const char *s = ml_json_get_str(ml_json_at(c, i), "state");

		if (t && !strcmp(t, type))
			return s && !strcmp(s, "CONDITION_SUCCEEDED");
	}
	return 0;
}

static const ml_json *find_revision(const ml_json *revs, const char *name)
{
	size_t i;

	for (i = 0; name && i < ml_json_size(revs); i++)
		if (!strcmp(short_name(ml_json_get_str(ml_json_at(revs, i), "name")), name))
			return ml_json_at(revs, i);
	return NULL;
}

/* A health check of url with the identity a private service wants
 * (ml_gcp_health_headers). */
static int identified_health(struct ml_gcp *g, struct ml_health_opts *ho, struct ml_health *out,
			     struct ml_error *err)
{
	struct ml_error herr = { 0, "" };
	char **hdrs = NULL;
	size_t n = 0;
	int rc = ml_gcp_health_headers(g, ho->base_url, &hdrs, &n, &herr);

	if (rc == -ML_ENOTFOUND)
		ho->denied_hint = herr.msg;
	else if (rc < 0) {
		*err = herr;
		return rc;
	}
	ho->secret_headers = (const char *const *)hdrs;
	ho->nsecret_headers = n;
	rc = ml_health_check(ho, out, err);
	ml_free_secrets(hdrs, n);
	return rc;
}

static void quick_health(struct run *r, struct ml_deploy_result *res)
{
	struct ml_health_opts ho = { .base_url = res->url, .path = r->g->ctx->cfg->health.path,
				     .timeout_s = 5 };
	struct ml_error herr = { 0 };

	if (res->url)
		identified_health(r->g, &ho, &res->health, &herr);
}

static int run_status(struct ml_gcp *g, struct ml_deploy_result *res, struct ml_error *err)
{
	struct run *r = g->target_state;
	ml_json *svc = NULL, *revs = NULL, *traffic, *x, *arr;
	const char *cond;
	size_t i;
	int rc = get(r, r->name, &svc, err);

	if (rc < 0)
		return rc;
	if (!svc) {
		res->state = ml_strdup("absent");
		return 0;
	}
	rc = list_revisions(r, &revs, err);
	if (rc < 0)
		goto out;
	traffic = pinned_traffic(svc);
	res->url = ml_strdup(ml_json_get_str(svc, "uri"));
	res->revision = ml_strdup(serving_revision(traffic));
	res->digest = ml_strdup(digest_of(image_of(find_revision(revs, res->revision))));
	cond = ml_json_get_str(ml_json_get(svc, "terminalCondition"), "state");
	res->state = ml_strdup(cond && !strcmp(cond, "CONDITION_SUCCEEDED") ? "ready" : "not ready");
	x = ml_json_object_new();
	ml_json_set_str(x, "ready_condition", cond ? cond : "unknown");
	if (ml_json_get_str(ml_json_get(svc, "terminalCondition"), "message"))
		ml_json_set_str(x, "message", ml_json_get_str(ml_json_get(svc, "terminalCondition"),
							      "message"));
	arr = ml_json_array_new();
	for (i = 0; i < ml_json_size(revs); i++) {
		const ml_json *rev = ml_json_at(revs, i);
		const char *n = short_name(ml_json_get_str(rev, "name"));
		ml_json *o = ml_json_object_new();

		ml_json_set_str(o, "name", n);
		ml_json_set_str(o, "digest", digest_of(image_of(rev)));
		ml_json_set_int(o, "percent", percent_of(traffic, n));
		ml_json_set(o, "ready", ml_json_bool_new(condition_ok(rev, "Ready")));
		ml_json_set_str(o, "created", ml_json_get_str(rev, "createTime"));
		ml_json_append(arr, o);
	}
	ml_json_set(x, "revisions", arr);
	ml_json_set(x, "traffic", traffic);
	res->extra = x;
	quick_health(r, res);
out:
	ml_json_free(revs);
	ml_json_free(svc);
	return rc;
}

/* RFC 3339 times of one service compare as strings once their fractions agree in
 * length, which Cloud Run's do; good enough to order its revisions. */
static int older(const ml_json *a, const ml_json *b)
{
	const char *ta = ml_json_get_str(a, "createTime"), *tb = ml_json_get_str(b, "createTime");

	return ta && tb && strcmp(ta, tb) < 0;
}

static int run_rollback(struct ml_gcp *g, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err)
{
	struct run *r = g->target_state;
	ml_json *svc = NULL, *revs = NULL, *traffic = NULL;
	const ml_json *serving, *best = NULL;
	const char *name = NULL;
	size_t i;
	char *what;
	int rc = get(r, r->name, &svc, err);

	if (rc == 0 && !svc)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s is not deployed on Cloud Run in %s",
				  g->ctx->service, r->parent);
	if (rc == 0)
		rc = list_revisions(r, &revs, err);
	if (rc < 0)
		goto out;
	traffic = pinned_traffic(svc);
	serving = find_revision(revs, serving_revision(traffic));
	for (i = 0; serving && i < ml_json_size(revs); i++) {
		const ml_json *rev = ml_json_at(revs, i);

		if (rev != serving && condition_ok(rev, "Ready") && older(rev, serving) &&
		    (!best || older(best, rev)))
			best = rev;
	}
	if (!best) {
		rc = ml_error_set(err, ML_ENOTFOUND, "nothing to roll back to: service %s has no ready "
				  "revision older than %s", g->ctx->service,
				  serving_revision(traffic) ? serving_revision(traffic) : "the serving one");
		goto out;
	}
	name = short_name(ml_json_get_str(best, "name"));
	res->previous_digest = ml_strdup(digest_of(image_of(serving)));
	res->revision = ml_strdup(name);
	res->digest = ml_strdup(digest_of(image_of(best)));
	res->changed = 1;
	what = ml_asprintf("moving all traffic back to revision %s", name);
	ml_log(ML_LOG_INFO, "cloud run: %s", what);
	ml_json_free(traffic);
	traffic = ml_json_array_new();
	rc = set_traffic(r, traffic_with(traffic, name, 100, NULL), what, req->timeout_s, err);
	free(what);
	res->url = ml_strdup(ml_json_get_str(svc, "uri"));
	if (rc == 0 && res->url) {
		struct ml_health_opts ho = { .base_url = res->url, .path = g->ctx->cfg->health.path,
					     .timeout_s = req->timeout_s,
					     .interrupted = g->ctx->interrupted };

		rc = identified_health(g, &ho, &res->health, err);
	}
out:
	ml_json_free(traffic);
	ml_json_free(revs);
	ml_json_free(svc);
	return rc;
}

static int run_destroy(struct ml_gcp *g, const struct ml_deploy_request *req,
		       struct ml_deploy_result *res, struct ml_error *err)
{
	struct run *r = g->target_state;
	ml_json *svc = NULL;
	const char *label;
	char *path;
	int rc = get(r, r->name, &svc, err);

	res->removed = ml_json_array_new();
	res->state = ml_strdup("absent");
	if (rc < 0 || !svc)
		return rc;
	label = ml_json_get_str(ml_json_get(svc, "labels"), LABEL_MANAGED);
	if (!label || strcmp(label, "mldeploy")) {
		ml_json_free(svc);
		return ml_error_set(err, ML_ECONFLICT, "Cloud Run service '%s' was not created by "
				    "mldeploy (no managed-by: mldeploy label): left alone",
				    g->ctx->service);
	}
	ml_json_free(svc);
	ml_log(ML_LOG_INFO, "cloud run: deleting service %s (its images stay in the registry)",
	       g->ctx->service);
	path = ml_asprintf("/v2/%s", r->name);
	rc = call_and_wait(r, "DELETE", path, NULL, "deleting the service", req->timeout_s, NULL,
			   err);
	free(path);
	if (rc == 0)
		ml_deploy_result_removed(res, "Cloud Run service", r->name);
	return rc;
}

const struct ml_gcp_target_ops ml_gcp_cloudrun_ops = {
	.name = "cloudrun",
	.init = run_init,
	.cleanup = run_cleanup,
	.plan = run_plan,
	.deploy = run_deploy,
	.release = run_release,
	.abort = run_abort,
	.status = run_status,
	.rollback = run_rollback,
	.destroy = run_destroy,
};
