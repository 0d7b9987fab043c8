/* The plan and the result object: what --dry-run and --json print. */
#include "deploy/plan.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void ml_plan_init(struct ml_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->steps = ml_json_array_new();
}

void ml_plan_dispose(struct ml_plan *p)
{
	ml_json_free(p->steps);
	free(p->summary);
	if (p->priv && p->priv_free)
		p->priv_free(p->priv);
	memset(p, 0, sizeof(*p));
}

void ml_plan_add(struct ml_plan *p, const char *action, const char *method, const char *url,
		 ml_json *body, int mutates)
{
	ml_json *s = ml_json_object_new();

	ml_json_set_str(s, "action", action);
	if (method)
		ml_json_set_str(s, "method", method);
	if (url)
		ml_json_set_str(s, "url", url);
	if (body)
		ml_json_set(s, "body", body);
	ml_json_set(s, "mutates", ml_json_bool_new(mutates));
	ml_json_append(p->steps, s);
}

ml_json *ml_plan_json(const struct ml_plan *p)
{
	ml_json *o = ml_json_object_new();

	ml_json_set_str(o, "summary", p->summary ? p->summary : "");
	ml_json_set(o, "noop", ml_json_bool_new(p->noop));
	ml_json_set(o, "steps", ml_json_ref(p->steps));
	return o;
}

void ml_deploy_result_init(struct ml_deploy_result *r)
{
	memset(r, 0, sizeof(*r));
	r->uptime_s = -1;
}

void ml_deploy_result_dispose(struct ml_deploy_result *r)
{
	free(r->provider);
	free(r->service);
	free(r->target);
	free(r->digest);
	free(r->url);
	free(r->revision);
	free(r->candidate_url);
	free(r->previous_digest);
	free(r->state);
	free(r->health.url);
	free(r->health.detail);
	ml_json_free(r->removed);
	ml_json_free(r->extra);
	memset(r, 0, sizeof(*r));
}

static void set_opt(ml_json *o, const char *key, const char *v)
{
	ml_json_set(o, key, v ? ml_json_string_new(v) : ml_json_null_new());
}

static ml_json *health_json(const struct ml_health *h)
{
	ml_json *o;

	if (!h->checked)
		return ml_json_null_new();
	o = ml_json_object_new();
	ml_json_set(o, "ok", ml_json_bool_new(h->ok));
	set_opt(o, "url", h->url);
	ml_json_set_int(o, "status", h->status);
	ml_json_set(o, "latency_ms", ml_json_real_new(h->latency_ms));
	ml_json_set_int(o, "attempts", h->attempts);
	if (h->detail)
		ml_json_set_str(o, "detail", h->detail);
	return o;
}

ml_json *ml_deploy_result_json(const struct ml_deploy_result *r)
{
	ml_json *o = ml_json_object_new(), *t;

	set_opt(o, "provider", r->provider);
	set_opt(o, "service", r->service);
	set_opt(o, "target", r->target);
	set_opt(o, "digest", r->digest);
	set_opt(o, "url", r->url);
	set_opt(o, "revision", r->revision);
	ml_json_set(o, "health", health_json(&r->health));
	if (r->state)
		ml_json_set_str(o, "state", r->state);
	ml_json_set(o, "changed", ml_json_bool_new(r->changed));
	if (r->candidate_url)
		ml_json_set_str(o, "candidate_url", r->candidate_url);
	if (r->previous_digest)
		ml_json_set_str(o, "previous_digest", r->previous_digest);
	if (r->uptime_s >= 0)
		ml_json_set_int(o, "uptime_s", r->uptime_s);
	if (r->removed)
		ml_json_set(o, "removed", ml_json_ref(r->removed));
	if (r->extra)
		ml_json_set(o, "details", ml_json_ref(r->extra));
	t = ml_json_object_new();
	ml_json_set(t, "build_s", ml_json_real_new(r->seconds_build));
	ml_json_set(t, "push_s", ml_json_real_new(r->seconds_push));
	ml_json_set(t, "platform_s", ml_json_real_new(r->seconds_platform));
	ml_json_set(t, "health_s", ml_json_real_new(r->seconds_health));
	ml_json_set(o, "timings", t);
	ml_json_set_int(o, "api_calls", r->api_calls);
	return o;
}

void ml_deploy_result_removed(struct ml_deploy_result *r, const char *kind, const char *name)
{
	ml_json *o = ml_json_object_new();

	if (!r->removed)
		r->removed = ml_json_array_new();
	ml_json_set_str(o, "kind", kind);
	ml_json_set_str(o, "name", name);
	ml_json_append(r->removed, o);
}
