/* Elastic Beanstalk's Query API (2010-12-01) for eb.c: requests as signed form
 * POSTs with XML answers, and the reads a deploy makes. Internal to providers/aws. */
#include "aws/eb-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "wrap/http.h"

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define XML_MAX (8u << 20)

void ml_eb_query_add(struct ml_eb_query *q, const char *key, const char *value)
{
	if (q->form.len)
		ml_buf_addch(&q->form, '&');
	ml_http_urlencode(&q->form, key);
	ml_buf_addch(&q->form, '=');
	ml_http_urlencode(&q->form, value);
	ml_json_set_str(q->shown, key, value);
}

void ml_eb_query_init(struct ml_eb_query *q, const char *action)
{
	q->action = action;
	ml_buf_init(&q->form, 0);
	q->shown = ml_json_object_new();
	ml_eb_query_add(q, "Action", action);
	ml_eb_query_add(q, "Version", EB_API);
}

void ml_eb_query_addf(struct ml_eb_query *q, const char *value, const char *keyfmt, ...)
{
	char key[128];
	va_list ap;

	va_start(ap, keyfmt);
	vsnprintf(key, sizeof(key), keyfmt, ap);
	va_end(ap);
	ml_eb_query_add(q, key, value);
}

void ml_eb_query_dispose(struct ml_eb_query *q)
{
	ml_buf_dispose(&q->form);
	ml_json_free(q->shown);
}

/* Sends q as a form POST (a read retried like a GET) and parses the answer;
 * *result (unless NULL) gets <ACTION>Result inside the document (*doc, freed by
 * the caller). */
int ml_eb_call(struct ml_eb *e, struct ml_eb_query *q, int change, struct ml_xml **doc,
	       const struct ml_xml **result, struct ml_error *err)
{
	struct ml_rest_result res;
	char path[128];
	int rc;

	*doc = NULL;
	rc = ml_rest_call_raw(e->api, "POST", "/", FORM_TYPE, q->form.data, q->form.len,
			      ML_REST_RAW | (change ? 0 : ML_REST_READ), &res, err);
	if (rc == 0)
		rc = ml_xml_parse(doc, res.resp.body.data, res.resp.body.len, XML_MAX, err);
	if (rc == 0 && result) {	/* some answers (DeleteApplication) have none */
		snprintf(path, sizeof(path), "%sResponse/%sResult", q->action, q->action);
		*result = ml_xml_find(*doc, path);
		if (!*result)
			rc = ml_error_set(err, ML_EPROTO, "Elastic Beanstalk: %s answered without "
					  "%sResult", q->action, q->action);
	} else if (rc < 0) {
		ml_error_prefix(err, "%s", q->action);
	}
	ml_rest_result_dispose(&res);
	if (rc < 0) {
		ml_xml_free(*doc);
		*doc = NULL;
	}
	return rc;
}

/* A call whose answer is not needed. */
int ml_eb_do(struct ml_eb *e, struct ml_eb_query *q, int change, struct ml_error *err)
{
	struct ml_xml *doc = NULL;
	int rc = ml_eb_call(e, q, change, &doc, NULL, err);

	ml_xml_free(doc);
	return rc;
}

const char *ml_eb_text(const struct ml_xml *node, const char *path)
{
	return ml_xml_text(ml_xml_find(node, path));
}

/* The first member of list (an element holding <member>s), or NULL. */
const struct ml_xml *ml_eb_first_member(const struct ml_xml *parent, const char *list)
{
	return ml_xml_child(ml_xml_find(parent, list), "member");
}

void ml_eb_env_dispose(struct ml_eb_env *v)
{
	free(v->status);
	free(v->health);
	free(v->label);
	free(v->cname);
	free(v->arn);
	free(v->stack);
	memset(v, 0, sizeof(*v));
}

int ml_eb_describe_env(struct ml_eb *e, int include_deleted, struct ml_eb_env *v,
		       struct ml_error *err)
{
	const struct ml_xml *r, *m, *found = NULL;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	int rc;

	memset(v, 0, sizeof(*v));
	ml_eb_query_init(&q, "DescribeEnvironments");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "EnvironmentNames.member.1", e->env);
	ml_eb_query_add(&q, "IncludeDeleted", include_deleted ? "true" : "false");
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	/* a name is unique among the environments that are not terminated; terminated
	 * ones of the same name may be listed too (include_deleted) */
	for (m = ml_eb_first_member(r, "Environments"); m; m = ml_xml_next(m, "member")) {
		const char *name = ml_eb_text(m, "EnvironmentName"), *status = ml_eb_text(m, "Status");
		int gone = status && !strcmp(status, "Terminated");

		if (!name || strcmp(name, e->env) || (gone && (!include_deleted || found)))
			continue;
		found = m;
		if (!gone)
			break;
	}
	if (found) {
		v->exists = 1;
		v->status = ml_strdup(ml_eb_text(found, "Status"));
		v->health = ml_strdup(ml_eb_text(found, "Health"));
		v->label = ml_strdup(ml_eb_text(found, "VersionLabel"));
		v->cname = ml_strdup(ml_eb_text(found, "CNAME"));
		v->arn = ml_strdup(ml_eb_text(found, "EnvironmentArn"));
		v->stack = ml_strdup(ml_eb_text(found, "SolutionStackName"));
	}
	ml_xml_free(doc);
	return 0;
}

/* 1 when the resource at arn carries managed-by: mldeploy, 0 when not. */
int ml_eb_managed(struct ml_eb *e, const char *arn, struct ml_error *err)
{
	const struct ml_xml *r, *m;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	int rc, found = 0;

	if (!arn || !*arn)
		return 0;
	ml_eb_query_init(&q, "ListTagsForResource");
	ml_eb_query_add(&q, "ResourceArn", arn);
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	for (m = ml_eb_first_member(r, "ResourceTags"); m; m = ml_xml_next(m, "member"))
		if (!strcmp(ml_eb_text(m, "Key") ? ml_eb_text(m, "Key") : "", TAG_MANAGED) &&
		    !strcmp(ml_eb_text(m, "Value") ? ml_eb_text(m, "Value") : "", "mldeploy"))
			found = 1;
	ml_xml_free(doc);
	return found;
}

/* *arn (may be NULL) gets the application's ARN; 1 when it exists. */
int ml_eb_describe_app(struct ml_eb *e, char **arn, struct ml_error *err)
{
	const struct ml_xml *r, *m;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	int rc;

	ml_eb_query_init(&q, "DescribeApplications");
	ml_eb_query_add(&q, "ApplicationNames.member.1", e->app);
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	for (m = ml_eb_first_member(r, "Applications"); m; m = ml_xml_next(m, "member"))
		if (ml_eb_text(m, "ApplicationName") && !strcmp(ml_eb_text(m, "ApplicationName"), e->app))
			break;
	if (m && arn)
		*arn = ml_strdup(ml_eb_text(m, "ApplicationArn"));
	ml_xml_free(doc);
	return m != NULL;
}

/* The versions labelled a and b (b may be NULL). */
int ml_eb_describe_versions(struct ml_eb *e, const char *a, const char *b,
			    struct ml_eb_version *va, struct ml_eb_version *vb,
			    struct ml_error *err)
{
	const struct ml_xml *r, *m;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	int rc;

	memset(va, 0, sizeof(*va));
	if (vb)
		memset(vb, 0, sizeof(*vb));
	ml_eb_query_init(&q, "DescribeApplicationVersions");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "VersionLabels.member.1", a);
	if (b)
		ml_eb_query_add(&q, "VersionLabels.member.2", b);
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	for (m = ml_eb_first_member(r, "ApplicationVersions"); m; m = ml_xml_next(m, "member")) {
		const char *label = ml_eb_text(m, "VersionLabel");
		struct ml_eb_version *v = label && !strcmp(label, a) ? va :
					 label && b && vb && !strcmp(label, b) ? vb : NULL;

		if (!v || v->exists)
			continue;
		v->exists = 1;
		v->status = ml_strdup(ml_eb_text(m, "Status"));
		v->description = ml_strdup(ml_eb_text(m, "Description"));
	}
	ml_xml_free(doc);
	return 0;
}

void ml_eb_version_dispose(struct ml_eb_version *v)
{
	free(v->status);
	free(v->description);
	memset(v, 0, sizeof(*v));
}

/* Compares the dotted numbers after " v" in two stack names ("... v4.3.0 running
 * Docker"); a name without them is the older. */
static int stack_version_cmp(const char *a, const char *b)
{
	a = strstr(a, " v");
	b = strstr(b, " v");
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	a += 2;
	b += 2;
	for (;;) {
		char *ea, *eb;
		long x = strtol(a, &ea, 10), y = strtol(b, &eb, 10);

		if (x != y)
			return x < y ? -1 : 1;
		if (*ea != '.' || *eb != '.')
			return (*ea == '.') - (*eb == '.');
		a = ea + 1;
		b = eb + 1;
	}
}

int ml_eb_stack_newer(const char *name, const char *than)
{
	size_t n = strlen(name), k = strlen(STACK_SUFFIX);

	if (strncmp(name, STACK_PREFIX, strlen(STACK_PREFIX)) || n <= k ||
	    strcmp(name + n - k, STACK_SUFFIX))
		return 0;
	return !than || stack_version_cmp(name, than) > 0;
}

/* The newest "64bit Amazon Linux 2023 vX running Docker". */
int ml_eb_solution_stack(struct ml_aws *a, struct ml_eb *e, char **out, struct ml_error *err)
{
	const struct ml_xml *r, *m;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	const char *best = NULL;
	int rc, n = 0;

	ml_eb_query_init(&q, "ListAvailableSolutionStacks");
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	for (m = ml_eb_first_member(r, "SolutionStacks"); m; m = ml_xml_next(m, "member")) {
		const char *s = ml_xml_text(m);

		n++;
		if (ml_eb_stack_newer(s, best))
			best = s;
	}
	if (best)
		*out = ml_strdup(best);
	else
		rc = ml_error_set(err, ML_ENOTFOUND, "Elastic Beanstalk in %s offers no solution stack "
				  "'" STACK_PREFIX "v..." STACK_SUFFIX "' among the %d it lists: mldeploy "
				  "runs images on the Docker platform on Amazon Linux 2023; check "
				  "deploy.aws.region", a->region, n);
	ml_xml_free(doc);
	return rc;
}

/* The version's description: "mldeploy digest=sha256:... previous=LABEL". */
char *ml_eb_desc_field(const char *desc, const char *key)
{
	size_t n = strlen(key);
	const char *p = desc;

	while (p && *p) {
		p += strspn(p, " ");
		if (!strncmp(p, key, n) && p[n] == '=')
			return ml_strndup(p + n + 1, strcspn(p + n + 1, " "));
		p = strchr(p, ' ');
	}
	return NULL;
}
