/* Amazon ECR (see ecr.h), after the ECR API reference (2015-09-21, JSON 1.1) and
 * what amazon-ecr-credential-helper does with GetAuthorizationToken. */
#include "aws/ecr.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/awsauth.h"
#include "deploy/token.h"
#include "registry/reference.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/digest.h"
#include "wrap/json.h"

#define TARGET "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921."
#define JSON_11 "application/x-amz-json-1.1"
#define USER "AWS"
#define TOKEN_MAX (64u << 10)		/* of a decoded authorization token */
/* ECR's tokens live 12 hours; one whose expiresAt is missing or already past by
 * our clock (a skewed clock, a stand-in) is kept for a minute only. */
#define LIFETIME_UNKNOWN_S 60
#define ACCOUNT_MAX 16
#define REGION_MAX 64

/* ECR answers {"__type", "message"}; refusals of the signature or of an IAM policy
 * may come as Query XML (moto sends those for every service). */
static int decode_ecr(const struct ml_http_response *resp, char *out, size_t cap, char *code_out)
{
	return ml_rest_decode_aws_json(resp, out, cap, code_out) ||
	       ml_rest_decode_aws_query(resp, out, cap, code_out);
}

static const struct ml_aws_service ecr_service = {
	.id = "ECR",
	.signing_name = "ecr",
	.display = "ECR",
	.host_prefix = "api.ecr",
	.decode = decode_ecr,
};

static void copy_lower(char *out, size_t cap, const char *s, size_t n)
{
	size_t i;

	if (!out)
		return;
	for (i = 0; i < n && i + 1 < cap; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
	out[i] = '\0';
}

int ml_ecr_parse_host(const char *host, char *account, char *region, size_t cap)
{
	static const char *const suffixes[] = { ".amazonaws.com", ".amazonaws.com.cn" };
	static const char dkr[] = ".dkr.ecr.";
	size_t acc = strspn(host, "0123456789"), rlen, i;
	const char *r;

	if (acc != 12 || strncasecmp(host + acc, dkr, sizeof(dkr) - 1))
		return 0;
	r = host + acc + sizeof(dkr) - 1;
	rlen = strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
	if (!rlen || r[0] == '-' || rlen >= cap || acc >= cap)
		return 0;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (!strcasecmp(r + rlen, suffixes[i]))
			break;
	if (i == sizeof(suffixes) / sizeof(suffixes[0]))
		return 0;
	copy_lower(account, cap, host, acc);
	copy_lower(region, cap, r, rlen);
	return 1;
}

/* One ECR API call: POST / with X-Amz-Target and a JSON 1.1 body. */
static int ecr_call(struct ml_rest *r, const char *op, const ml_json *body, unsigned flags,
		    struct ml_rest_result *res, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT, t = ML_BUF_INIT;
	const char *headers[1];
	int rc;

	if (ml_json_dump(body, &b) < 0) {
		ml_buf_dispose(&b);
		return ml_error_set(err, ML_EINTERNAL, "ECR: %s: cannot write the request body", op);
	}
	ml_buf_printf(&t, TARGET "%s", op);
	headers[0] = ml_buf_str(&t);
	rc = ml_rest_call_headers(r, "POST", "/", headers, 1, JSON_11, b.data, b.len, flags, res,
				  err);
	ml_buf_dispose(&t);
	ml_buf_dispose(&b);
	return rc;
}

static int access_denied(const char *code)
{
	return strstr(code, "AccessDenied") != NULL;
}

/* ---- the registry login ---- */

/* A number that may be a JSON real (ECR's timestamps are seconds with a fraction). */
static int64_t json_seconds(const ml_json *v)
{
	struct ml_buf b = ML_BUF_INIT;
	int64_t n = 0;

	if (ml_json_int(v, &n) < 0 && v && ml_json_dump(v, &b) == 0 && b.len)
		n = (int64_t)strtod(ml_buf_str(&b), NULL);
	ml_buf_dispose(&b);
	return n;
}

/* The password of GetAuthorizationToken's first authorizationData: base64 of
 * "AWS:<password>" (malloc'ed, a secret), and how long it lives. */
static int take_token(const ml_json *body, char **password, int64_t *life, struct ml_error *err)
{
	const ml_json *data = ml_json_at(ml_json_get(body, "authorizationData"), 0);
	const char *token = ml_json_get_str(data, "authorizationToken");
	struct ml_buf raw = ML_BUF_INIT;
	int64_t expires = json_seconds(ml_json_get(data, "expiresAt"));
	int rc = 0;

	ml_buf_init(&raw, TOKEN_MAX);
	if (!token || !*token || ml_base64_decode(&raw, token, strlen(token)) < 0 ||
	    raw.len <= sizeof(USER) || memcmp(raw.data, USER ":", sizeof(USER)) ||
	    memchr(raw.data, '\0', raw.len)) {
		/* never quoted: it would be the credential */
		rc = ml_error_set(err, ML_EPROTO, "ECR: GetAuthorizationToken answered without "
				  "a usable authorizationToken (base64 of \"AWS:<password>\")");
		goto out;
	}
	*password = ml_strdup(ml_buf_str(&raw) + sizeof(USER));
	*life = expires - (int64_t)time(NULL);
	if (*life <= 0)
		*life = LIFETIME_UNKNOWN_S;
out:
	ml_wipe(raw.data, raw.len);
	ml_buf_dispose(&raw);
	return rc;
}

static int fetch_token(struct ml_awsauth *auth, const char *host, const char *region,
		       char **password, int64_t *life, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_rest *r = NULL;
	ml_json *body = ml_json_object_new();
	int rc;

	rc = ml_aws_client(auth, &ecr_service, region, &r, err);
	if (rc < 0)
		goto out;
	ml_log(ML_LOG_INFO, "registry %s: ECR GetAuthorizationToken in %s", host, region);
	rc = ecr_call(r, "GetAuthorizationToken", body, ML_REST_READ, &res, err);
	if (rc < 0 && access_denied(res.code))
		rc = ml_error_prefix(err, "the AWS credentials (%s) may not call "
				     "ecr:GetAuthorizationToken (allow it, e.g. with the managed "
				     "policy AmazonEC2ContainerRegistryPowerUser)",
				     ml_awsauth_source(auth) ? ml_awsauth_source(auth) : "?");
	else if (rc < 0)
		rc = ml_error_prefix(err, "GetAuthorizationToken");
	else
		rc = take_token(res.body, password, life, err);
out:
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	ml_rest_free(r);
	ml_json_free(body);
	return rc;
}

/* The registry hook has no per-run state (push calls it from its threads): the AWS
 * credentials and the passwords by registry host live for the process here, behind
 * one lock, so that concurrent pushes to one registry make one token request. */
static struct {
	pthread_mutex_t lock;
	struct ml_awsauth *auth;
	struct ml_token_cache *tokens;
} hook = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL };

/* 1 with a password for host in *password; 2 when out got the Docker config's
 * credential instead (no AWS credential anywhere). Called with the lock held. */
static int hook_password(const char *host, const char *region, char **password,
			 struct ml_credential *out, struct ml_error *err)
{
	struct ml_aws_credentials c = { 0 };
	struct ml_error none = { 0, "" };
	int64_t life = 0;
	int rc;

	*password = ml_token_cache_get(hook.tokens, host);
	if (*password)
		return 1;
	if (!hook.auth && (rc = ml_awsauth_new(&hook.auth, NULL, err)) < 0)
		return rc;
	rc = ml_awsauth_credentials(hook.auth, &c, err);
	ml_aws_credentials_dispose(&c);
	if (rc == -ML_EAUTH) {
		/* no AWS credential: an `aws ecr get-login-password` login or the
		 * ecr-login helper in the Docker config, else the chain's own message */
		rc = ml_auth_credential(host, out, &none);
		if (rc > 0)
			return 2;
		if (rc < 0 && err)
			*err = none;
		return rc < 0 ? rc : -ML_EAUTH;
	}
	if (rc < 0)
		return rc;
	rc = fetch_token(hook.auth, host, region, password, &life, err);
	if (rc < 0)
		return rc;
	ml_token_cache_put(hook.tokens, host, *password, life);
	return 1;
}

int ml_ecr_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err)
{
	char account[ACCOUNT_MAX], region[REGION_MAX], key[512], *password = NULL;
	int rc;

	if (strlen(host) >= sizeof(key) ||
	    !ml_ecr_parse_host(host, account, region, sizeof(region)))
		return 0;
	copy_lower(key, sizeof(key), host, strlen(host));
	pthread_mutex_lock(&hook.lock);
	if (!hook.tokens)
		hook.tokens = ml_token_cache_new();
	rc = hook_password(key, region, &password, out, err);
	if (rc == 1) {
		out->username = ml_strdup(USER);
		out->secret = password;
		out->source = ml_asprintf("ECR GetAuthorizationToken (AWS credentials: %s)",
					  ml_awsauth_source(hook.auth) ?
					  ml_awsauth_source(hook.auth) : "?");
	}
	pthread_mutex_unlock(&hook.lock);
	return rc == 2 ? 1 : rc;
}

/* ---- the repository ---- */

/* The ECR registry and repository of image.repository; 0 when it is not on ECR. */
struct target {
	struct ml_ref ref;
	char account[ACCOUNT_MAX];
	char region[REGION_MAX];
};

static int target_parse(struct target *t, const char *repository, struct ml_error *err)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = ml_ref_parse(&t->ref, repository, 1, err);
	if (rc < 0)
		return rc;
	return ml_ecr_parse_host(t->ref.host, t->account, t->region, sizeof(t->region));
}

/* An ECR client in the registry's region, which may not be the run's. */
static int target_client(struct ml_aws *a, const struct target *t, struct ml_rest **r,
			 struct ml_error *err)
{
	const char *run_region = a->region;
	int rc;

	a->region = t->region;
	rc = ml_aws_rest(a, &ecr_service, r, err);
	a->region = run_region;
	return rc;
}

static ml_json *create_body(const struct ml_aws *a, const struct target *t)
{
	ml_json *body = ml_json_object_new(), *scan = ml_json_object_new();
	ml_json *tags = ml_json_array_new(), *tag = ml_json_object_new();

	ml_json_set_str(body, "registryId", t->account);
	ml_json_set_str(body, "repositoryName", t->ref.repository);
	ml_json_set_str(body, "imageTagMutability", a->conf->immutable_tags ? "IMMUTABLE" :
			"MUTABLE");
	ml_json_set(scan, "scanOnPush", ml_json_bool_new(a->conf->scan_on_push));
	ml_json_set(body, "imageScanningConfiguration", scan);
	ml_json_set_str(tag, "Key", "managed-by");
	ml_json_set_str(tag, "Value", "mldeploy");
	ml_json_append(tags, tag);
	ml_json_set(body, "tags", tags);
	return body;
}

static int missing_error(const struct target *t, struct ml_error *err)
{
	return ml_error_set(err, ML_ENOTFOUND, "ECR repository '%s' does not exist in registry "
			    "'%s' (create it: aws ecr create-repository --repository-name %s "
			    "--region %s; or set deploy.aws.create_repository: true)",
			    t->ref.repository, t->ref.host, t->ref.repository, t->region);
}

static int denied(const char *action, const char *hint, struct ml_error *err)
{
	return ml_error_prefix(err, "the AWS credentials may not call %s (%s)", action, hint);
}

/* 1 when the repository exists, 0 when not. */
static int describe(struct ml_rest *r, const struct target *t, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	ml_json *body = ml_json_object_new(), *names = ml_json_array_new();
	int rc;

	ml_json_append(names, ml_json_string_new(t->ref.repository));
	ml_json_set_str(body, "registryId", t->account);
	ml_json_set(body, "repositoryNames", names);
	rc = ecr_call(r, "DescribeRepositories", body, ML_REST_READ, &res, err);
	if (rc == 0)
		rc = ml_json_size(ml_json_get(res.body, "repositories")) > 0;
	else if (!strcmp(res.code, "RepositoryNotFoundException"))
		rc = 0;
	else if (access_denied(res.code))
		rc = denied("ecr:DescribeRepositories", "allow it, e.g. with the managed policy "
			    "AmazonEC2ContainerRegistryPowerUser", err);
	ml_rest_result_dispose(&res);
	ml_json_free(body);
	return rc;
}

static int create(struct ml_aws *a, struct ml_rest *r, const struct target *t,
		  struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	ml_json *body = create_body(a, t);
	int rc;

	ml_log(ML_LOG_WARN, "creating ECR repository %s/%s (%s tags%s)", t->ref.host,
	       t->ref.repository, a->conf->immutable_tags ? "immutable" : "mutable",
	       a->conf->scan_on_push ? ", scan on push" : "");
	rc = ecr_call(r, "CreateRepository", body, 0, &res, err);
	/* made meanwhile, or by the first attempt of a retried call */
	if (rc < 0 && !strcmp(res.code, "RepositoryAlreadyExistsException"))
		rc = 0;
	else if (rc < 0 && access_denied(res.code))
		rc = denied("ecr:CreateRepository", "allow it, or have the repository created once "
			    "and set deploy.aws.create_repository: false", err);
	ml_rest_result_dispose(&res);
	ml_json_free(body);
	return rc;
}

int ml_ecr_prepare(struct ml_aws *a, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err)
{
	struct ml_rest *r = NULL;
	struct target t;
	int rc = target_parse(&t, repository, err);

	if (rc <= 0)
		goto out;
	free(a->repository_name);
	a->repository_name = ml_strdup(t.ref.repository);
	rc = target_client(a, &t, &r, err);
	if (rc == 0)
		rc = describe(r, &t, err);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		ml_log(ML_LOG_INFO, "ECR repository %s/%s exists", t.ref.host, t.ref.repository);
		rc = 0;
	} else if (!a->conf->create_repository) {
		rc = missing_error(&t, err);
	} else if (req->dry_run) {
		a->repository_missing = 1;
	} else {
		rc = create(a, r, &t, err);
	}
out:
	ml_ref_dispose(&t.ref);
	return rc;
}

void ml_ecr_plan_step(struct ml_aws *a, struct ml_plan *plan)
{
	struct ml_error err = { 0, "" };
	struct target t;
	char *url = NULL, *what;
	int overridden = 0;

	if (!a->repository_missing || !a->ctx->cfg->image.repository)
		return;
	if (target_parse(&t, a->ctx->cfg->image.repository, &err) <= 0) {
		ml_ref_dispose(&t.ref);
		return;
	}
	if (ml_aws_endpoint(a->auth, &ecr_service, t.region, &url, &overridden, &err) < 0)
		url = ml_strdup("https://api.ecr.{region}.amazonaws.com");
	what = ml_asprintf("create the ECR repository %s (CreateRepository)", t.ref.repository);
	ml_plan_add(plan, what, "POST", url, create_body(a, &t), 1);
	free(what);
	free(url);
	ml_ref_dispose(&t.ref);
}
