/* Elastic Beanstalk (its Query API in ebapi.c). A deploy is a Dockerrun.aws.json
 * v1 that names the image by digest, zipped as the source bundle and put in the
 * account's Elastic Beanstalk bucket under its content hash; an application
 * version of it (labelled by the digest and a hash of the settings, so that the
 * label says what runs) and the environment created with it or updated to it,
 * watched through DescribeEnvironments and DescribeEvents until it is Ready and
 * Green. */
#include "aws/eb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/eb-internal.h"
#include "aws/iam.h"
#include "aws/s3.h"
#include "deploy/health.h"
#include "deploy/poll.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/tmpfile.h"
#include "wrap/digest.h"
#include "wrap/tar.h"

#define DOCKERRUN "Dockerrun.aws.json"
#define BUNDLE_MTIME 315532800		/* 1980-01-01, the oldest time zip holds */
#define ENV_TIMEOUT_S 1800		/* a new environment takes minutes */
#define VERSION_TIMEOUT_S 600
#define NS_ENV "aws:elasticbeanstalk:application:environment"

/* One option setting. */
struct opt {
	const char *ns, *name;
	char *value;
};

/* What a plan found; deploy carries it out. */
struct eb_plan {
	char *label;		/* the version label to run */
	char *description;	/* the version's: digest and the label it follows */
	char *digest;
	char *previous_digest;
	struct ml_buf bundle;	/* the zip */
	char bundle_hash[ML_DIGEST_LEN];
	int app_exists, version_exists, env_exists, create_profile;
	char *stack;		/* solution stack of a new environment */
	struct opt *opts;	/* to set */
	size_t nopts;
	char **remove;		/* environment variables to remove (update only) */
	size_t nremove;
	char *cname;		/* of the live environment */
	int no_wait;
	long timeout_s;
};

static struct ml_eb *eb_of(struct ml_aws *a)
{
	return a->target_state;
}

static void opts_free(struct opt *o, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(o[i].value);
	free(o);
}

static void eb_plan_free(void *p)
{
	struct eb_plan *ep = p;

	free(ep->label);
	free(ep->description);
	free(ep->digest);
	free(ep->previous_digest);
	ml_buf_dispose(&ep->bundle);
	free(ep->stack);
	opts_free(ep->opts, ep->nopts);
	ml_free_strings(ep->remove, ep->nremove);
	free(ep->cname);
	free(ep);
}

/* ---- init */

static int decode_eb(const struct ml_http_response *resp, char *out, size_t cap, char *code)
{
	return ml_rest_decode_aws_query(resp, out, cap, code);
}

static const struct ml_aws_service eb_service = {
	.id = "ELASTIC_BEANSTALK",
	.signing_name = "elasticbeanstalk",
	.display = "Elastic Beanstalk",
	.host_prefix = "elasticbeanstalk",
	.decode = decode_eb,
};

int ml_eb_init(struct ml_aws *a, struct ml_error *err)
{
	const char *svcname = a->ctx->service;
	struct ml_eb *e = ml_calloc(1, sizeof(*e));
	int overridden = 0, rc;

	a->target_state = e;
	e->app = ml_strdup(a->conf->application ? a->conf->application : svcname);
	e->env = a->conf->environment ? ml_strdup(a->conf->environment) :
		 ml_asprintf("%s-env", svcname);
	if (strlen(e->env) < 4 || strlen(e->env) > 40 || e->env[0] == '-' ||
	    e->env[strlen(e->env) - 1] == '-' ||
	    strspn(e->env, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
	    strlen(e->env))
		return ml_error_set(err, ML_ECONFIG, "%s: Elastic Beanstalk environment name '%s' "
				    "is not valid (4 to 40 letters, digits and hyphens, not first or "
				    "last): set deploy.aws.environment", a->ctx->cfg->path, e->env);
	if (strlen(e->app) > 100)
		return ml_error_set(err, ML_ECONFIG, "%s: Elastic Beanstalk application name '%.40s...' "
				    "is longer than 100 characters: set deploy.aws.application",
				    a->ctx->cfg->path, e->app);
	rc = ml_aws_endpoint(a->auth, &eb_service, a->region, &e->base, &overridden, err);
	if (rc == 0)
		rc = ml_aws_rest(a, &eb_service, &e->api, err);
	return rc;
}

void ml_eb_cleanup(struct ml_aws *a)
{
	struct ml_eb *e = eb_of(a);

	if (!e)
		return;
	free(e->base);
	free(e->app);
	free(e->env);
	free(e);
	a->target_state = NULL;
}

/* ---- what runs: Dockerrun.aws.json, the option settings, the label */

static ml_json *dockerrun(const struct ml_deploy_request *req)
{
	ml_json *d = ml_json_object_new(), *img = ml_json_object_new();
	ml_json *ports = ml_json_array_new(), *p = ml_json_object_new();
	char port[16];

	ml_json_set_str(d, "AWSEBDockerrunVersion", "1");
	ml_json_set_str(img, "Name", req->image);
	ml_json_set_str(img, "Update", "false");	/* by digest: nothing newer to pull */
	ml_json_set(d, "Image", img);
	snprintf(port, sizeof(port), "%d", req->port);
	ml_json_set_str(p, "ContainerPort", port);
	ml_json_append(ports, p);
	ml_json_set(d, "Ports", ports);
	return d;
}

static int dockerrun_text(const struct ml_deploy_request *req, struct ml_buf *out)
{
	ml_json *d = dockerrun(req);
	int rc = ml_json_dump_pretty(d, out);

	ml_json_free(d);
	if (rc == 0 && (!out->len || out->data[out->len - 1] != '\n'))
		rc = ml_buf_addch(out, '\n');
	return rc;
}

static int bundle_out(void *ud, const void *data, size_t len)
{
	return ml_buf_add(ud, data, len);
}

/* The source bundle: a zip holding Dockerrun.aws.json alone, the same bytes for
 * the same request. */
static int make_bundle(const struct ml_deploy_request *req, struct ml_buf *zip,
		       struct ml_error *err)
{
	struct ml_tar_writer *w = NULL;
	struct ml_buf doc;
	int rc;

	ml_buf_init(&doc, 0);
	dockerrun_text(req, &doc);
	rc = ml_zip_writer_new(&w, bundle_out, zip, err);
	if (rc == 0)
		rc = ml_tar_add_data(w, DOCKERRUN, 0644, BUNDLE_MTIME, doc.data, doc.len, err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, err);
	ml_tar_writer_free(w);
	ml_buf_dispose(&doc);
	return rc;
}

static void opt_add(struct eb_plan *ep, const char *ns, const char *name, const char *value)
{
	ep->opts = ml_realloc(ep->opts, (ep->nopts + 1) * sizeof(*ep->opts));
	ep->opts[ep->nopts].ns = ns;
	ep->opts[ep->nopts].name = name;
	ep->opts[ep->nopts].value = ml_strdup(value);
	ep->nopts++;
}

/* Every option setting deploy.yaml asks for (names and namespaces are static). */
static void wanted_options(struct ml_aws *a, struct eb_plan *ep)
{
	const struct ml_aws_conf *c = a->conf;
	const char *health = a->ctx->cfg->health.path ? a->ctx->cfg->health.path : "/";
	size_t i;

	opt_add(ep, "aws:autoscaling:launchconfiguration", "IamInstanceProfile",
		c->instance_profile ? c->instance_profile : ML_IAM_DEFAULT_PROFILE);
	if (c->instance_type)
		opt_add(ep, "aws:autoscaling:launchconfiguration", "InstanceType", c->instance_type);
	opt_add(ep, "aws:elasticbeanstalk:environment", "EnvironmentType",
		c->load_balanced ? "LoadBalanced" : "SingleInstance");
	if (c->load_balanced)
		opt_add(ep, "aws:elasticbeanstalk:environment:process:default", "HealthCheckPath",
			health);
	else
		opt_add(ep, "aws:elasticbeanstalk:application", "Application Healthcheck URL", health);
	for (i = 0; i < c->nenv; i++)
		opt_add(ep, NS_ENV, c->env[i].key, c->env[i].value);
}

/* "mldeploy-<12 hex of the digest>-<8 hex of the bundle and the settings>". The
 * label is public: the values of secret-named environment variables count only
 * through a slow salted digest (PBKDF2), so that it does not let anyone test
 * guesses of them cheaply. */
static char *version_label(const struct ml_eb *e, const struct eb_plan *ep, const char *digest)
{
	struct ml_sha256 *h = ml_sha256_new();
	unsigned char slow[ML_SHA256_LEN];
	struct ml_buf secrets, salt;
	char out[ML_DIGEST_LEN];
	size_t i;

	ml_buf_init(&secrets, 0);
	ml_sha256_update(h, ep->bundle_hash, strlen(ep->bundle_hash));
	for (i = 0; i < ep->nopts; i++) {
		const struct opt *o = &ep->opts[i];
		int secret = !strcmp(o->ns, NS_ENV) && ml_redact_header_is_secret(o->name);

		ml_sha256_update(h, "\n", 1);
		ml_sha256_update(h, o->ns, strlen(o->ns) + 1);
		ml_sha256_update(h, o->name, strlen(o->name) + 1);
		if (secret)
			ml_buf_printf(&secrets, "%s=%s\n", o->name, o->value);
		else
			ml_sha256_update(h, o->value, strlen(o->value));
	}
	if (secrets.len) {
		ml_buf_init(&salt, 0);
		ml_buf_printf(&salt, "%s/%s", e->app, e->env);
		ml_pbkdf2_sha256(secrets.data, secrets.len, salt.data, salt.len, 200000, slow);
		ml_sha256_update(h, slow, sizeof(slow));
		ml_wipe(slow, sizeof(slow));
		ml_buf_dispose(&salt);
	}
	ml_wipe(secrets.data, secrets.len);
	ml_buf_dispose(&secrets);
	ml_sha256_final(h, out);
	ml_sha256_free(h);
	return ml_asprintf("mldeploy-%.12s-%.8s", ml_digest_hex(digest), ml_digest_hex(out));
}

static void add_options(struct ml_eb_query *q, const struct opt *o, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ml_eb_query_addf(q, o[i].ns, "OptionSettings.member.%zu.Namespace", i + 1);
		ml_eb_query_addf(q, o[i].name, "OptionSettings.member.%zu.OptionName", i + 1);
		ml_eb_query_addf(q, o[i].value, "OptionSettings.member.%zu.Value", i + 1);
	}
}

static int text_is(const struct ml_xml *node, const char *path, const char *want)
{
	const char *t = ml_eb_text(node, path);

	return t && !strcmp(t, want);
}

/* 1 when the configuration cfg (a ConfigurationSettings member) has o as it is. */
static int has_option(const struct ml_xml *cfg, const struct opt *o)
{
	const struct ml_xml *m;

	for (m = ml_eb_first_member(cfg, "OptionSettings"); m; m = ml_xml_next(m, "member"))
		if (text_is(m, "Namespace", o->ns) && text_is(m, "OptionName", o->name) &&
		    text_is(m, "Value", o->value))
			return 1;
	return 0;
}

/* The option settings the live environment has, and which of ours differ. */
static int changed_options(const struct ml_aws_conf *c, struct ml_eb *e, struct eb_plan *ep,
			   struct ml_error *err)
{
	const struct ml_xml *r, *m, *cfg;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	struct opt *keep = NULL;
	size_t i, nkeep = 0;
	int rc;

	ml_eb_query_init(&q, "DescribeConfigurationSettings");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "EnvironmentName", e->env);
	rc = ml_eb_call(e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	cfg = ml_eb_first_member(r, "ConfigurationSettings");
	for (i = 0; i < ep->nopts; i++) {
		if (has_option(cfg, &ep->opts[i])) {
			free(ep->opts[i].value);
			continue;
		}
		keep = ml_realloc(keep, (nkeep + 1) * sizeof(*keep));
		keep[nkeep++] = ep->opts[i];
	}
	free(ep->opts);
	ep->opts = keep;
	ep->nopts = nkeep;
	/* environment variables deploy.yaml no longer sets */
	for (m = ml_eb_first_member(cfg, "OptionSettings"); m; m = ml_xml_next(m, "member")) {
		const char *ns = ml_eb_text(m, "Namespace"), *name = ml_eb_text(m, "OptionName");
		size_t k;

		if (!ns || strcmp(ns, NS_ENV) || !name)
			continue;
		for (k = 0; k < c->nenv; k++)
			if (!strcmp(c->env[k].key, name))
				break;
		if (k == c->nenv) {
			ep->remove = ml_realloc(ep->remove, (ep->nremove + 1) * sizeof(*ep->remove));
			ep->remove[ep->nremove++] = ml_strdup(name);
		}
	}
	ml_xml_free(doc);
	return 0;
}

/* ---- the requests that change something, for the plan and the deploy alike */

static void q_tag(struct ml_eb_query *q, const char *prefix)
{
	ml_eb_query_addf(q, TAG_MANAGED, "%s.member.1.Key", prefix);
	ml_eb_query_addf(q, "mldeploy", "%s.member.1.Value", prefix);
}

static void q_create_app(struct ml_eb *e, struct ml_eb_query *q)
{
	ml_eb_query_init(q, "CreateApplication");
	ml_eb_query_add(q, "ApplicationName", e->app);
	ml_eb_query_add(q, "Description", "created by mldeploy");
	q_tag(q, "Tags");
}

static char *bundle_key(const struct ml_eb *e, const struct eb_plan *ep)
{
	return ml_asprintf("mldeploy/%s/%s.zip", e->app, ml_digest_hex(ep->bundle_hash));
}

static void q_create_version(struct ml_eb *e, const struct eb_plan *ep, const char *bucket,
			     struct ml_eb_query *q)
{
	char *key = bundle_key(e, ep);

	ml_eb_query_init(q, "CreateApplicationVersion");
	ml_eb_query_add(q, "ApplicationName", e->app);
	ml_eb_query_add(q, "VersionLabel", ep->label);
	ml_eb_query_add(q, "Description", ep->description);
	ml_eb_query_add(q, "SourceBundle.S3Bucket", bucket);
	ml_eb_query_add(q, "SourceBundle.S3Key", key);
	ml_eb_query_add(q, "Process", "true");
	free(key);
}

static void q_environment(struct ml_eb *e, const struct eb_plan *ep, struct ml_eb_query *q)
{
	size_t i;

	ml_eb_query_init(q, ep->env_exists ? "UpdateEnvironment" : "CreateEnvironment");
	ml_eb_query_add(q, "ApplicationName", e->app);
	ml_eb_query_add(q, "EnvironmentName", e->env);
	ml_eb_query_add(q, "VersionLabel", ep->label);
	if (!ep->env_exists) {
		ml_eb_query_add(q, "SolutionStackName", ep->stack);
		q_tag(q, "Tags");
	}
	add_options(q, ep->opts, ep->nopts);
	for (i = 0; i < ep->nremove; i++) {
		ml_eb_query_addf(q, NS_ENV, "OptionsToRemove.member.%zu.Namespace", i + 1);
		ml_eb_query_addf(q, ep->remove[i], "OptionsToRemove.member.%zu.OptionName", i + 1);
	}
}

/* A plan step showing q's parameters. */
/* q's parameters fit to print: the value of an environment variable whose name
 * says it is a secret (API_TOKEN, DB_PASSWORD...) masked. */
static ml_json *masked(const ml_json *shown)
{
	ml_json *copy = ml_json_deep_copy(shown);
	char key[128];
	size_t i;

	for (i = 1;; i++) {
		const char *ns, *name;

		snprintf(key, sizeof(key), "OptionSettings.member.%zu.Namespace", i);
		if (!(ns = ml_json_get_str(copy, key)))
			break;
		snprintf(key, sizeof(key), "OptionSettings.member.%zu.OptionName", i);
		name = ml_json_get_str(copy, key);
		if (!strcmp(ns, NS_ENV) && name && ml_redact_header_is_secret(name)) {
			snprintf(key, sizeof(key), "OptionSettings.member.%zu.Value", i);
			ml_json_set_str(copy, key, "***");
		}
	}
	return copy;
}

static void step(struct ml_eb *e, struct ml_plan *plan, const char *what, struct ml_eb_query *q,
		 int change)
{
	ml_plan_add(plan, what, "POST", e->base, masked(q->shown), change);
	ml_eb_query_dispose(q);
}

/* ---- plan */

static int plan_reads(struct ml_aws *a, struct ml_eb *e, const struct ml_deploy_request *req,
		      struct eb_plan *ep, struct ml_plan *plan, struct ml_error *err)
{
	struct ml_eb_env live;
	struct ml_eb_version want, cur;
	char *prev_label = NULL;
	int rc = ml_eb_describe_env(e, 0, &live, err);

	memset(&want, 0, sizeof(want));
	memset(&cur, 0, sizeof(cur));
	if (rc == 0 && live.exists) {
		rc = ml_eb_managed(e, live.arn, err);
		if (rc == 0)
			rc = ml_error_set(err, ML_ECONFLICT, "Elastic Beanstalk environment '%s' of "
					  "application '%s' was not created by mldeploy (no managed-by: "
					  "mldeploy tag): left alone; choose another name with "
					  "deploy.aws.environment", e->env, e->app);
		rc = rc < 0 ? rc : 0;
		plan->live = 1;
		ep->env_exists = 1;
		ep->cname = ml_strdup(live.cname);
		if (live.label && strcmp(live.label, ep->label))
			prev_label = live.label;
	}
	if (rc == 0)
		rc = ml_eb_describe_versions(e, ep->label, prev_label, &want, &cur, err);
	if (rc < 0)
		goto out;
	if (cur.description) {
		char *d = ml_eb_desc_field(cur.description, "digest");

		if (d && strcmp(d, req->digest))
			ep->previous_digest = d;
		else
			free(d);
	}
	if (live.exists && live.label && !strcmp(live.label, ep->label) && live.status &&
	    !strcmp(live.status, "Ready") && live.health && strcmp(live.health, "Red")) {
		plan->noop = 1;
		goto out;
	}
	if (live.exists && live.status && strcmp(live.status, "Ready")) {
		rc = ml_error_set(err, ML_ECONFLICT, "Elastic Beanstalk environment '%s' is %s: it "
				  "takes no change until it is Ready; deploy again once `mldeploy "
				  "status` says Ready", e->env, live.status);
		goto out;
	}
	if (want.exists && want.status && !strcmp(want.status, "Failed")) {
		rc = ml_error_set(err, ML_EPROTO, "application version '%s' of '%s' failed to "
				  "process before: delete it (DeleteApplicationVersion) and deploy "
				  "again", ep->label, e->app);
		goto out;
	}
	ep->version_exists = want.exists;
	if (want.exists)
		ep->description = ml_strdup(want.description);
	else if (prev_label)
		ep->description = ml_asprintf("mldeploy digest=%s previous=%s", req->digest, prev_label);
	else
		ep->description = ml_asprintf("mldeploy digest=%s", req->digest);
	if (!ep->version_exists) {
		rc = ml_eb_describe_app(e, NULL, err);
		ep->app_exists = rc > 0;
	} else {
		ep->app_exists = 1;
	}
	if (rc >= 0) {
		rc = ml_iam_profile_exists(a, a->conf->instance_profile ? a->conf->instance_profile :
					   ML_IAM_DEFAULT_PROFILE, err);
		ep->create_profile = rc == 0;
	}
	if (rc >= 0)
		rc = live.exists ? changed_options(a->conf, e, ep, err) :
		     ml_eb_solution_stack(a, e, &ep->stack, err);
out:
	ml_eb_env_dispose(&live);
	ml_eb_version_dispose(&want);
	ml_eb_version_dispose(&cur);
	return rc < 0 ? rc : 0;
}

int ml_eb_plan(struct ml_aws *a, const struct ml_deploy_request *req, struct ml_plan *plan,
	       struct ml_error *err)
{
	struct ml_eb *e = eb_of(a);
	struct eb_plan *ep = ml_calloc(1, sizeof(*ep));
	const char *profile = a->conf->instance_profile ? a->conf->instance_profile :
			      ML_IAM_DEFAULT_PROFILE;
	struct ml_eb_query q;
	ml_json *body;
	char *key;
	int rc;

	plan->priv = ep;
	plan->priv_free = eb_plan_free;
	if (!req->image)
		return ml_error_set(err, ML_ECONFIG, "%s: Elastic Beanstalk runs images from a registry: "
				    "set image.repository", a->ctx->cfg->path);
	ep->digest = ml_strdup(req->digest);
	ep->no_wait = req->no_wait;
	ep->timeout_s = req->timeout_s;
	ml_buf_init(&ep->bundle, 1u << 20);
	rc = make_bundle(req, &ep->bundle, err);
	if (rc < 0)
		return rc;
	ml_sha256_digest(ep->bundle.data, ep->bundle.len, ep->bundle_hash);
	wanted_options(a, ep);
	ep->label = version_label(e, ep, req->digest);
	rc = plan_reads(a, e, req, ep, plan, err);
	if (rc < 0)
		return rc;
	if (plan->noop) {
		plan->summary = ml_asprintf("no change: environment %s already runs %s (%s)", e->env,
					    ep->label, req->digest);
		return 0;
	}
	ml_eb_query_init(&q, "CreateStorageLocation");
	step(e, plan, "find (or create, once) the account's Elastic Beanstalk bucket", &q, 1);
	key = bundle_key(e, ep);
	body = dockerrun(req);
	{
		char *url = ml_asprintf("s3://{bucket}/%s", key);

		ml_plan_add(plan, "upload the source bundle (a zip of " DOCKERRUN ", unless the "
			    "bucket has it)", "PUT", url, body, 1);
		free(url);
	}
	free(key);
	if (!ep->app_exists) {
		q_create_app(e, &q);
		step(e, plan, "create the application", &q, 1);
	}
	if (!ep->version_exists) {
		q_create_version(e, ep, "{bucket}", &q);
		step(e, plan, "create the application version", &q, 1);
		ml_eb_query_init(&q, "DescribeApplicationVersions");
		ml_eb_query_add(&q, "ApplicationName", e->app);
		ml_eb_query_add(&q, "VersionLabels.member.1", ep->label);
		step(e, plan, "wait until the version is processed", &q, 0);
	}
	if (ep->create_profile) {
		char *what = ml_asprintf("create the instance profile %s (a role of that name for "
					 "ec2.amazonaws.com with AWSElasticBeanstalkWebTier and "
					 "AmazonEC2ContainerRegistryReadOnly)", profile);

		const struct ml_aws_service iam = { .id = "IAM", .signing_name = "iam",
						    .display = "IAM", .host_prefix = "iam",
						    .global = 1 };
		char *url = NULL;
		int overridden;

		body = ml_json_object_new();
		ml_json_set_str(body, "InstanceProfileName", profile);
		ml_json_set_str(body, "RoleName", profile);
		if (ml_aws_endpoint(a->auth, &iam, a->region, &url, &overridden, NULL) < 0)
			url = ml_strdup("https://iam.amazonaws.com");
		ml_plan_add(plan, what, "POST", url, body, 1);
		free(url);
		free(what);
	}
	q_environment(e, ep, &q);
	step(e, plan, ep->env_exists ? "update the environment to the new version" :
	     "create the environment", &q, 1);
	ml_eb_query_init(&q, "DescribeEnvironments");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "EnvironmentNames.member.1", e->env);
	step(e, plan, "wait until it is Ready and Green, showing DescribeEvents", &q, 0);
	plan->summary = ml_asprintf("%s environment %s running %s (%s)",
				    ep->env_exists ? "update" : "create", e->env, ep->label, req->digest);
	return 0;
}

/* ---- deploy */

static int storage_location(struct ml_eb *e, char **bucket, struct ml_error *err)
{
	const struct ml_xml *r;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	int rc;

	ml_eb_query_init(&q, "CreateStorageLocation");
	rc = ml_eb_call(e, &q, 1, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc == 0 && !(ml_eb_text(r, "S3Bucket") && *ml_eb_text(r, "S3Bucket")))
		rc = ml_error_set(err, ML_EPROTO, "Elastic Beanstalk: CreateStorageLocation named no bucket");
	if (rc == 0)
		*bucket = ml_strdup(ml_eb_text(r, "S3Bucket"));
	ml_xml_free(doc);
	return rc;
}

static int upload(struct ml_aws *a, struct ml_eb *e, const struct eb_plan *ep, const char *bucket,
		  struct ml_error *err)
{
	char *key = bundle_key(e, ep), *path = NULL, *template;
	const char *tmp = getenv("TMPDIR");
	int fd = -1, rc = ml_s3_exists(a, bucket, key, err);

	if (rc != 0)
		goto out;	/* there already (the same bytes: the key is their hash), or an error */
	template = ml_asprintf("%s/mldeploy-bundle-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	rc = ml_tmp_create(template, &path, &fd, err);
	free(template);
	if (rc == 0)
		rc = ml_write_all(fd, ep->bundle.data, ep->bundle.len, err);
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		ml_log(ML_LOG_INFO, "uploading the source bundle to s3://%s/%s", bucket, key);
		rc = ml_s3_put_file(a, bucket, key, path, "application/zip", err);
	}
	if (path)
		ml_tmp_remove(path);
	free(path);
out:
	free(key);
	return rc < 0 ? rc : 0;
}

/* For a poll callback: err is filled, the operation failed. */
static int failed(int rc)
{
	(void)rc;
	return ML_POLL_FAILED;
}

struct version_wait {
	struct ml_eb *e;
	const char *label;
};

static int look_at_version(void *ud, struct ml_poll_step *st, struct ml_error *err)
{
	struct version_wait *w = ud;
	struct ml_eb_version v;
	int rc = ml_eb_describe_versions(w->e, w->label, NULL, &v, NULL, err);

	if (rc < 0)
		return rc;
	snprintf(st->progress, sizeof(st->progress), "application version %s: %s", w->label,
		 v.status ? v.status : "absent");
	if (!v.exists)
		rc = ml_error_set(err, ML_EPROTO, "Elastic Beanstalk: application version %s is gone",
				  w->label);
	else if (!strcmp(v.status ? v.status : "", "Processed"))
		rc = ML_POLL_DONE;
	else if (!strcmp(v.status ? v.status : "", "Failed"))
		rc = failed(ml_error_set(err, ML_EPROTO, "Elastic Beanstalk could not process application "
				  "version %s (its source bundle): see `mldeploy status` for the "
				  "events", w->label));
	else
		rc = ML_POLL_PENDING;
	ml_eb_version_dispose(&v);
	return rc;
}

/* The environment until Ready and Green, its new events logged as they come. */
struct env_wait {
	struct ml_aws *a;
	struct ml_eb *e;
	const char *label;
	char since[32];		/* StartTime of the next DescribeEvents */
	char **seen;		/* events at exactly `since`, already shown */
	size_t nseen;
	char *error;		/* an ERROR event's message */
	int terminate;		/* waiting for Terminated */
};

static void utc_now(char out[32], int back_s)
{
	time_t t = time(NULL) - back_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int seen(struct env_wait *w, const char *key)
{
	size_t i;

	for (i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i], key))
			return 1;
	return 0;
}

/* New events since the last look, oldest first, logged; the first ERROR kept. */
static int stream_events(struct env_wait *w, struct ml_error *err)
{
	const struct ml_xml *r, *m, *list[200];
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	size_t n = 0;
	int rc;

	ml_eb_query_init(&q, "DescribeEvents");
	ml_eb_query_add(&q, "ApplicationName", w->e->app);
	ml_eb_query_add(&q, "EnvironmentName", w->e->env);
	ml_eb_query_add(&q, "StartTime", w->since);
	ml_eb_query_add(&q, "MaxRecords", "100");
	rc = ml_eb_call(w->e, &q, 0, &doc, &r, err);
	ml_eb_query_dispose(&q);
	if (rc < 0)
		return rc;
	for (m = ml_eb_first_member(r, "Events"); m && n < 200; m = ml_xml_next(m, "member"))
		list[n++] = m;
	while (n--) {	/* newest first on the wire */
		const char *date = ml_eb_text(list[n], "EventDate"), *sev = ml_eb_text(list[n], "Severity");
		const char *msg = ml_eb_text(list[n], "Message");
		char *key, *shown;

		if (!date || !msg)
			continue;
		key = ml_asprintf("%s %s", date, msg);
		if (seen(w, key)) {
			free(key);
			continue;
		}
		if (strncmp(date, w->since, 19) > 0) {	/* a later second: the old keys go */
			ml_free_strings(w->seen, w->nseen);
			w->seen = NULL;
			w->nseen = 0;
			snprintf(w->since, sizeof(w->since), "%.19sZ", date);
		}
		w->seen = ml_realloc(w->seen, (w->nseen + 1) * sizeof(*w->seen));
		w->seen[w->nseen++] = key;
		shown = ml_strdup(msg);
		ml_sanitize(shown);
		ml_log(ML_LOG_INFO, "Elastic Beanstalk: %s %s", sev ? sev : "INFO", shown);
		if (!w->error && sev && (!strcmp(sev, "ERROR") || !strcmp(sev, "FATAL")))
			w->error = shown;
		else
			free(shown);
	}
	ml_xml_free(doc);
	return 0;
}

static void strip_period(char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '.')
		s[n - 1] = '\0';
}

static int look_at_env(void *ud, struct ml_poll_step *st, struct ml_error *err)
{
	struct env_wait *w = ud;
	struct ml_eb_env v;
	/* the state first: the events that led to it are then all there */
	int rc = ml_eb_describe_env(w->e, w->terminate, &v, err);

	if (rc == 0)
		rc = stream_events(w, err);
	if (rc < 0) {
		ml_eb_env_dispose(&v);
		return rc;
	}
	snprintf(st->progress, sizeof(st->progress), "environment %s: %s, health %s", w->e->env,
		 v.status ? v.status : "absent", v.health ? v.health : "unknown");
	if (w->terminate) {
		rc = !v.exists || !strcmp(v.status ? v.status : "", "Terminated") ? ML_POLL_DONE :
		     ML_POLL_PENDING;
	} else if (!v.exists) {
		rc = failed(ml_error_set(err, ML_EPROTO, "Elastic Beanstalk environment %s is gone%s%s",
				  w->e->env, w->error ? ": " : "", w->error ? w->error : ""));
	} else if (w->error) {
		strip_period(w->error);
		rc = failed(ml_error_set(err, ML_EPROTO, "Elastic Beanstalk environment %s (%s, health %s): %s",
				  w->e->env, v.status ? v.status : "?", v.health ? v.health : "?",
				  w->error));
	} else if (!strcmp(v.status ? v.status : "", "Ready") &&
		   !strcmp(v.health ? v.health : "", "Red")) {
		rc = failed(ml_error_set(err, ML_EHEALTH, "Elastic Beanstalk environment %s is Ready but its "
				  "health is Red: see `mldeploy status` for the events", w->e->env));
	} else if (!strcmp(v.status ? v.status : "", "Ready") &&
		   !strcmp(v.health ? v.health : "", "Green")) {
		rc = w->label && strcmp(v.label ? v.label : "", w->label) ?
		     failed(ml_error_set(err, ML_EPROTO, "Elastic Beanstalk environment %s is Ready with "
				  "version %s, not %s: the deployment did not take", w->e->env,
				  v.label ? v.label : "none", w->label)) : ML_POLL_DONE;
	} else {
		rc = ML_POLL_PENDING;
	}
	ml_eb_env_dispose(&v);
	return rc;
}

static int wait_env(struct ml_aws *a, struct ml_eb *e, const char *label, const char *since,
		    int terminate, long timeout_s, struct ml_error *err)
{
	struct env_wait w = { .a = a, .e = e, .label = label, .terminate = terminate };
	struct ml_poll_opts po = { .what = "Elastic Beanstalk",
				   .timeout_s = timeout_s > 0 ? timeout_s : ENV_TIMEOUT_S,
				   .max_ms = 5000, .interrupted = a->ctx->interrupted };
	int rc;

	snprintf(w.since, sizeof(w.since), "%s", since);
	rc = ml_poll(&po, look_at_env, &w, err);
	if (rc == 0) {	/* what was said as the state settled */
		struct ml_error eerr = { 0 };

		stream_events(&w, &eerr);
	}
	ml_free_strings(w.seen, w.nseen);
	free(w.error);
	return rc;
}

static char *url_of(const char *cname)
{
	return cname && *cname ? ml_asprintf("http://%s", cname) : NULL;
}

static int env_url(struct ml_eb *e, struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_eb_env v;
	int rc = ml_eb_describe_env(e, 0, &v, err);

	if (rc == 0 && !(res->url = url_of(v.cname)))
		rc = ml_error_set(err, ML_EPROTO, "Elastic Beanstalk environment %s has no CNAME", e->env);
	ml_eb_env_dispose(&v);
	return rc;
}

int ml_eb_deploy(struct ml_aws *a, const struct ml_plan *plan, struct ml_deploy_result *res,
		 struct ml_error *err)
{
	struct ml_eb *e = eb_of(a);
	struct eb_plan *ep = plan->priv;
	const char *profile = a->conf->instance_profile ? a->conf->instance_profile :
			      ML_IAM_DEFAULT_PROFILE;
	struct version_wait vw = { e, ep->label };
	struct ml_poll_opts po = { .what = "Elastic Beanstalk", .timeout_s = VERSION_TIMEOUT_S,
				   .max_ms = 5000, .interrupted = a->ctx->interrupted };
	char *bucket = NULL, since[32];
	struct ml_eb_query q;
	int rc;

	res->digest = ml_strdup(ep->digest);
	res->revision = ml_strdup(ep->label);
	res->previous_digest = ml_strdup(ep->previous_digest);
	res->changed = !plan->noop;
	res->state = ml_strdup("Ready");
	if (plan->noop)
		return (res->url = url_of(ep->cname)) ? 0 : env_url(e, res, err);
	rc = storage_location(e, &bucket, err);
	if (rc == 0)
		rc = upload(a, e, ep, bucket, err);
	if (rc == 0 && !ep->app_exists) {
		q_create_app(e, &q);
		rc = ml_eb_do(e, &q, 1, err);
		ml_eb_query_dispose(&q);
	}
	if (rc == 0 && !ep->version_exists) {
		q_create_version(e, ep, bucket, &q);
		rc = ml_eb_do(e, &q, 1, err);
		ml_eb_query_dispose(&q);
		if (rc == 0)
			rc = ml_poll(&po, look_at_version, &vw, err);
	}
	if (rc == 0 && ep->create_profile) {
		ml_log(ML_LOG_WARN, "instance profile %s does not exist: creating it (role %s for "
		       "EC2 with AWSElasticBeanstalkWebTier and AmazonEC2ContainerRegistryReadOnly)",
		       profile, profile);
		rc = ml_iam_create_profile(a, profile, err);
	}
	if (rc == 0) {
		utc_now(since, 1);
		q_environment(e, ep, &q);
		rc = ml_eb_do(e, &q, 1, err);
		ml_eb_query_dispose(&q);
	}
	if (rc == 0 && !ep->no_wait)
		rc = wait_env(a, e, ep->label, since, 0, ep->timeout_s, err);
	if (rc == 0)
		rc = env_url(e, res, err);
	free(bucket);
	return rc;
}

/* ---- status, rollback, destroy, render */

/* The last events (newest first) as one array of "DATE SEVERITY MESSAGE". */
static ml_json *recent_events(struct ml_eb *e, int max, struct ml_error *err)
{
	const struct ml_xml *r, *m;
	struct ml_xml *doc = NULL;
	struct ml_eb_query q;
	ml_json *arr;
	char n[16];

	snprintf(n, sizeof(n), "%d", max);
	ml_eb_query_init(&q, "DescribeEvents");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "EnvironmentName", e->env);
	ml_eb_query_add(&q, "MaxRecords", n);
	if (ml_eb_call(e, &q, 0, &doc, &r, err) < 0) {
		ml_eb_query_dispose(&q);
		return NULL;
	}
	ml_eb_query_dispose(&q);
	arr = ml_json_array_new();
	for (m = ml_eb_first_member(r, "Events"); m; m = ml_xml_next(m, "member")) {
		const char *date = ml_eb_text(m, "EventDate"), *sev = ml_eb_text(m, "Severity");
		const char *msg = ml_eb_text(m, "Message");
		char *line = ml_asprintf("%s %s %s", date ? date : "", sev ? sev : "", msg ? msg : "");

		ml_sanitize(line);
		ml_json_append(arr, ml_json_string_new(line));
		free(line);
	}
	ml_xml_free(doc);
	return arr;
}

int ml_eb_status(struct ml_aws *a, struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_eb *e = eb_of(a);
	struct ml_eb_env v;
	struct ml_eb_version cur;
	struct ml_error eerr = { 0 };
	ml_json *x, *events;
	int rc = ml_eb_describe_env(e, 0, &v, err);

	if (rc < 0)
		return rc;
	if (!v.exists) {
		res->state = ml_strdup("absent");
		return 0;
	}
	res->state = ml_strdup(v.status);
	res->revision = ml_strdup(v.label);
	res->url = url_of(v.cname);
	rc = v.label ? ml_eb_describe_versions(e, v.label, NULL, &cur, NULL, err) : 0;
	if (rc == 0 && v.label) {
		res->digest = ml_eb_desc_field(cur.description, "digest");
		ml_eb_version_dispose(&cur);
	}
	x = ml_json_object_new();
	ml_json_set_str(x, "application", e->app);
	ml_json_set_str(x, "environment", e->env);
	ml_json_set_str(x, "health", v.health ? v.health : "Grey");
	if (v.stack)
		ml_json_set_str(x, "solution_stack", v.stack);
	events = rc == 0 ? recent_events(e, 10, &eerr) : NULL;
	ml_json_set(x, "events", events ? events : ml_json_array_new());
	res->extra = x;
	if (rc == 0 && res->url) {
		struct ml_health_opts ho = { .base_url = res->url, .path = a->ctx->cfg->health.path,
					     .timeout_s = 5 };
		struct ml_error herr = { 0 };

		ml_health_check(&ho, &res->health, &herr);
	}
	ml_eb_env_dispose(&v);
	return rc;
}

int ml_eb_rollback(struct ml_aws *a, const struct ml_deploy_request *req,
		   struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_eb *e = eb_of(a);
	struct ml_eb_env v;
	struct ml_eb_version cur, prev;
	struct ml_eb_query q;
	char *prev_label = NULL, since[32];
	int rc = ml_eb_describe_env(e, 0, &v, err);

	memset(&cur, 0, sizeof(cur));
	memset(&prev, 0, sizeof(prev));
	if (rc == 0 && !v.exists)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s is not deployed on Elastic Beanstalk "
				  "(no environment %s in application %s)", a->ctx->service, e->env, e->app);
	if (rc == 0 && v.label)
		rc = ml_eb_describe_versions(e, v.label, NULL, &cur, NULL, err);
	if (rc == 0 && !(prev_label = ml_eb_desc_field(cur.description, "previous")))
		rc = ml_error_set(err, ML_ENOTFOUND, "nothing to roll back to: environment %s has run "
				  "only %s", e->env, v.label ? v.label : "no version");
	if (rc == 0)
		rc = ml_eb_describe_versions(e, prev_label, NULL, &prev, NULL, err);
	if (rc == 0 && !prev.exists)
		rc = ml_error_set(err, ML_ENOTFOUND, "cannot roll back: application version %s, which "
				  "ran before %s, no longer exists", prev_label, v.label);
	if (rc == 0 && v.status && strcmp(v.status, "Ready"))
		rc = ml_error_set(err, ML_ECONFLICT, "Elastic Beanstalk environment '%s' is %s: roll "
				  "back once it is Ready", e->env, v.status);
	if (rc < 0)
		goto out;
	ml_log(ML_LOG_INFO, "rolling environment %s back from %s to %s", e->env, v.label, prev_label);
	res->digest = ml_eb_desc_field(prev.description, "digest");
	res->previous_digest = ml_eb_desc_field(cur.description, "digest");
	res->revision = ml_strdup(prev_label);
	res->changed = 1;
	utc_now(since, 1);
	ml_eb_query_init(&q, "UpdateEnvironment");
	ml_eb_query_add(&q, "ApplicationName", e->app);
	ml_eb_query_add(&q, "EnvironmentName", e->env);
	ml_eb_query_add(&q, "VersionLabel", prev_label);
	rc = ml_eb_do(e, &q, 1, err);
	ml_eb_query_dispose(&q);
	if (rc == 0 && !req->no_wait)
		rc = wait_env(a, e, prev_label, since, 0, req->timeout_s, err);
	if (rc == 0)
		rc = env_url(e, res, err);
	if (rc == 0 && !req->no_wait) {
		struct ml_health_opts ho = { .base_url = res->url, .path = a->ctx->cfg->health.path,
					     .timeout_s = req->timeout_s, .interrupted = a->ctx->interrupted };

		rc = ml_health_check(&ho, &res->health, err);
	}
	res->state = ml_strdup(rc == 0 ? "Ready" : NULL);
out:
	free(prev_label);
	ml_eb_version_dispose(&cur);
	ml_eb_version_dispose(&prev);
	ml_eb_env_dispose(&v);
	return rc;
}

/* --all: the application with its versions, when mldeploy created it. */
static int destroy_app(struct ml_eb *e, struct ml_deploy_result *res, struct ml_error *err)
{
	char *arn = NULL;
	struct ml_eb_query q;
	int rc = ml_eb_describe_app(e, &arn, err);

	if (rc > 0)
		rc = ml_eb_managed(e, arn, err);
	if (rc > 0) {
		ml_eb_query_init(&q, "DeleteApplication");
		ml_eb_query_add(&q, "ApplicationName", e->app);
		ml_eb_query_add(&q, "TerminateEnvByForce", "true");
		rc = ml_eb_do(e, &q, 1, err);
		ml_eb_query_dispose(&q);
		if (rc == 0)
			ml_deploy_result_removed(res, "application", e->app);
	} else if (rc == 0 && arn) {
		ml_log(ML_LOG_WARN, "Elastic Beanstalk application %s was not created by mldeploy: "
		       "left alone", e->app);
	}
	free(arn);
	return rc < 0 ? rc : 0;
}

int ml_eb_destroy(struct ml_aws *a, const struct ml_deploy_request *req,
		  struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_eb *e = eb_of(a);
	struct ml_eb_env v;
	struct ml_eb_query q;
	char since[32];
	int rc = ml_eb_describe_env(e, 0, &v, err);

	res->removed = ml_json_array_new();
	res->state = ml_strdup("absent");
	if (rc == 0 && v.exists) {
		rc = ml_eb_managed(e, v.arn, err);
		if (rc == 0)
			rc = ml_error_set(err, ML_ECONFLICT, "Elastic Beanstalk environment '%s' was not "
					  "created by mldeploy (no managed-by: mldeploy tag): left alone",
					  e->env);
		if (rc > 0) {
			utc_now(since, 1);
			ml_eb_query_init(&q, "TerminateEnvironment");
			ml_eb_query_add(&q, "EnvironmentName", e->env);
			rc = ml_eb_do(e, &q, 1, err);
			ml_eb_query_dispose(&q);
			if (rc == 0)
				rc = wait_env(a, e, NULL, since, 1, req->timeout_s, err);
			if (rc == 0)
				ml_deploy_result_removed(res, "environment", e->env);
		}
	}
	ml_eb_env_dispose(&v);
	if (rc == 0 && req->destroy_all)
		rc = destroy_app(e, res, err);
	return rc;
}

int ml_eb_render(struct ml_aws *a, const struct ml_deploy_request *req, const char *file,
		 struct ml_buf *out, struct ml_error *err)
{
	(void)a;
	if (strcmp(file, DOCKERRUN))
		return ml_error_set(err, ML_ENOTFOUND, "provider aws has no platform file '%s' "
				    "(it renders " DOCKERRUN ")", file);
	if (!req->image)
		return ml_error_set(err, ML_ECONFIG, "%s: " DOCKERRUN " names the image in a "
				    "registry: set image.repository", a->ctx->cfg->path);
	return dockerrun_text(req, out);
}
