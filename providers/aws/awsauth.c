/* AWS credentials, region, endpoints and signed REST clients (see awsauth.h). The
 * chain is resolved once, without the network, by ml_awsauth_new; credentials are
 * fetched at first use and fetched again before they expire. */
#include "aws/awsauth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/awsauth-internal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* Temporary credentials are fetched again this long before they expire (the SDKs
 * refresh 10 to 15 minutes ahead; a deploy's calls are spread over minutes). */
#define REFRESH_MARGIN_S (10 * 60)

struct sign_ud {
	struct ml_awsauth *auth;
	const struct ml_aws_service *svc;
	char *region;			/* the signing region */
	struct sign_ud *next;
};

const char *ml_aws_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int ml_aws_env_true(const char *name)
{
	const char *v = ml_aws_env(name);

	return v && !strcasecmp(v, "true");
}

int64_t ml_awsauth_now(const struct ml_awsauth *a)
{
	return a && a->now ? a->now(a->now_ud) : (int64_t)time(NULL);
}

void ml_aws_source_free(struct ml_aws_source *s)
{
	if (!s)
		return;
	ml_aws_source_free(s->base);
	ml_aws_credentials_dispose(&s->keys);
	free(s->desc);
	free(s->profile);
	free(s->role_arn);
	free(s->session_name);
	free(s->external_id);
	free(s->token_file);
	free(s->process);
	free(s->url);
	ml_free_secret(s->auth_token);
	free(s->auth_file);
	free(s->sts_region);
	free(s);
}

struct ml_aws_source *ml_aws_source_new(enum ml_aws_source_kind kind, const char *desc)
{
	struct ml_aws_source *s = ml_calloc(1, sizeof(*s));

	s->kind = kind;
	s->desc = ml_strdup(desc);
	return s;
}

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN): 1 when set, 0
 * when neither is, an error when only one of them is. */
static int env_keys(struct ml_aws_source **out, struct ml_error *err)
{
	const char *id = ml_aws_env("AWS_ACCESS_KEY_ID"), *secret = ml_aws_env("AWS_SECRET_ACCESS_KEY");
	struct ml_aws_source *s;

	if (!id && !secret)
		return 0;
	if (!id || !secret)
		return ml_error_set(err, ML_EAUTH, "%s is set without %s (hint: set both, or "
				    "neither to use a profile or a role)",
				    id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				    id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	s = ml_aws_source_new(ML_AWS_SRC_STATIC, "environment (AWS_ACCESS_KEY_ID)");
	s->keys.access_key_id = ml_strdup(id);
	s->keys.secret_access_key = ml_strdup(secret);
	s->keys.session_token = ml_strdup(ml_aws_env("AWS_SESSION_TOKEN"));
	*out = s;
	return 1;
}

void ml_awsauth_set_region(struct ml_awsauth *a, const char *region, const char *from)
{
	if (a->region || !region || !*region)
		return;
	a->region = ml_strdup(region);
	ml_log(ML_LOG_INFO, "aws: region %s (from %s)", region, from);
}

int ml_awsauth_new(struct ml_awsauth **out, const char *region, struct ml_error *err)
{
	struct ml_awsauth *a = ml_calloc(1, sizeof(*a));
	int rc;

	pthread_mutex_init(&a->lock, NULL);
	ml_awsauth_set_region(a, region, "deploy.aws.region");
	ml_awsauth_set_region(a, ml_aws_env("AWS_REGION"), "AWS_REGION");
	ml_awsauth_set_region(a, ml_aws_env("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION");
	rc = env_keys(&a->src, err);
	if (rc >= 0)
		rc = ml_aws_chain_resolve(a, err);
	if (rc < 0) {
		ml_awsauth_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void ml_awsauth_free(struct ml_awsauth *a)
{
	struct sign_ud *u, *next;

	if (!a)
		return;
	for (u = a->uds; u; u = next) {
		next = u->next;
		free(u->region);
		free(u);
	}
	ml_aws_credentials_dispose(&a->cur);
	ml_aws_source_free(a->src);
	ml_aws_profiles_free(a->profiles);
	ml_rest_free(a->sts);
	ml_rest_free(a->meta);
	free(a->sts_url);
	free(a->sts_region);
	free(a->region);
	free(a->tried);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

const char *ml_awsauth_region(const struct ml_awsauth *a)
{
	return a ? a->region : NULL;
}

const char *ml_awsauth_source(const struct ml_awsauth *a)
{
	return a && a->src && a->fetched ? a->src->desc : NULL;
}

/* Fresh: no expiry, or more than the margin left. */
static int fresh(const struct ml_awsauth *a, const struct ml_aws_credentials *c)
{
	return c->access_key_id && (!c->expiration ||
				    c->expiration - ml_awsauth_now(a) > REFRESH_MARGIN_S);
}

int ml_awsauth_credentials(struct ml_awsauth *a, struct ml_aws_credentials *out,
			   struct ml_error *err)
{
	struct ml_aws_credentials got = { 0 };
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&a->lock);
	if (fresh(a, &a->cur))
		goto done;
	if (!a->src) {
		rc = ml_aws_chain_last(a, &got, err);
		if (rc < 0)
			goto out;
	} else {
		rc = ml_aws_source_fetch(a, a->src, &got, err);
	}
	if (rc < 0) {
		ml_error_prefix(err, "aws credentials from %s", a->src->desc);
		goto out;
	}
	if (got.expiration && got.expiration <= ml_awsauth_now(a)) {
		ml_aws_credentials_dispose(&got);
		rc = ml_error_set(err, ML_EAUTH, "aws credentials from %s have expired (hint: "
				  "renew them at their source)", a->src->desc);
		goto out;
	}
	ml_aws_credentials_dispose(&a->cur);
	a->cur = got;
	if (!a->fetched || a->cur.expiration)
		ml_log(ML_LOG_INFO, "aws: credentials from %s%s", a->src->desc,
		       a->cur.expiration ? " (temporary)" : "");
	a->fetched = 1;
done:
	ml_aws_credentials_copy(out, &a->cur);
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void ml_awsauth_invalidate(struct ml_awsauth *a)
{
	pthread_mutex_lock(&a->lock);
	if (a->src && a->src->kind != ML_AWS_SRC_STATIC)
		ml_aws_credentials_dispose(&a->cur);
	pthread_mutex_unlock(&a->lock);
}

/* ---- endpoints ---- */

static int is_cn(const char *region)
{
	return region && !strncmp(region, "cn-", 3);
}

/* An endpoint variable's value: an http(s) URL with a host, no trailing '/'. */
static int endpoint_value(const char *var, const char *v, char **url, struct ml_error *err)
{
	const char *host = !strncmp(v, "https://", 8) ? v + 8 : !strncmp(v, "http://", 7) ? v + 7 :
			   NULL;
	size_t n = strlen(v);

	if (!host || !*host || strchr("/?#", *host) || strcspn(v, " \t\r\n") < n)
		return ml_error_set(err, ML_EUSAGE, "%s '%s' is not an http:// or https:// URL "
				    "with a host (hint: https://HOST[:PORT])", var, v);
	while (n && v[n - 1] == '/')
		n--;
	*url = ml_strndup(v, n);
	return 0;
}

static const char *signing_region(const struct ml_aws_service *svc, const char *region)
{
	if (svc->global)
		return is_cn(region) ? "cn-north-1" : "us-east-1";
	return region;
}

int ml_aws_endpoint(const struct ml_awsauth *a, const struct ml_aws_service *svc,
		    const char *region, char **url, int *overridden, struct ml_error *err)
{
	char var[96];
	const char *v = NULL, *from = NULL;
	int rc;

	(void)a;
	*overridden = 0;
	if (!ml_aws_env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", svc->id);
		if ((v = ml_aws_env(var)))
			from = var;
		else if ((v = ml_aws_env("AWS_ENDPOINT_URL")))
			from = "AWS_ENDPOINT_URL";
	}
	if (v) {
		rc = endpoint_value(from, v, url, err);
		if (rc < 0)
			return rc;
		*overridden = 1;
		ml_log(ML_LOG_INFO, "aws: %s endpoint %s (from %s)", svc->display, *url, from);
		return 0;
	}
	if (region && (!*region || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") <
		       strlen(region)))
		return ml_error_set(err, ML_ECONFIG, "AWS region '%s' is not a region name (hint: "
				    "like us-east-1)", region);
	if (svc->global && !is_cn(region)) {
		*url = ml_asprintf("https://%s.amazonaws.com", svc->host_prefix);
		return 0;
	}
	region = signing_region(svc, region);
	if (!region || !*region)
		return ml_error_set(err, ML_ECONFIG, "no AWS region for %s (hint: set "
				    "deploy.aws.region, AWS_REGION or region in the profile)",
				    svc->display);
	*url = ml_asprintf("https://%s.%s.amazonaws.com%s", svc->host_prefix, region,
			   is_cn(region) ? ".cn" : "");
	return 0;
}

/* ---- signed clients ---- */

static int aws_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		    struct ml_error *err)
{
	struct sign_ud *u = ud;
	struct ml_aws_credentials c;
	struct ml_sigv4_params p = { .region = u->region, .service = u->svc->signing_name,
				     .s3 = u->svc->s3 };
	int rc;

	/* S3 over a streamed body: its hash is not known here (S3 accepts that) */
	if (u->svc->s3 && !req->body)
		p.payload_hash = ML_SIGV4_UNSIGNED_PAYLOAD;
	rc = ml_awsauth_credentials(u->auth, &c, err);
	if (rc == 0)
		rc = ml_sigv4_sign(&p, &c, req, headers, nheaders, err);
	ml_aws_credentials_dispose(&c);
	return rc;
}

/* Throttling, as the SDKs' retry rules name it (LimitExceededException is left
 * out: ECR, IAM and Elastic Beanstalk use it for quotas, which do not pass). */
static int throttle_code(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "RequestThrottled", "SlowDown",
		"PriorRequestNotComplete", "EC2ThrottledException", NULL };
	size_t i;

	for (i = 0; code && codes[i]; i++)
		if (!strcmp(code, codes[i]))
			return 1;
	return 0;
}

static int expired_code(const char *code)
{
	return code && (!strcmp(code, "ExpiredToken") || !strcmp(code, "ExpiredTokenException") ||
			!strcmp(code, "RequestExpired"));
}

/* A throttle is retried; so is an expired token when the credentials can be
 * fetched again (the next attempt signs with new ones). */
static int aws_retryable(void *ud, const struct ml_http_response *resp, const char *code)
{
	struct sign_ud *u = ud;

	(void)resp;
	if (throttle_code(code))
		return 1;
	if (expired_code(code) && u->auth->src && u->auth->src->kind != ML_AWS_SRC_STATIC) {
		ml_awsauth_invalidate(u->auth);
		return 1;
	}
	return 0;
}

/* The decoded error with a hint for the codes that mean "these credentials". */
static void credential_hint(char *out, size_t cap, const char *code)
{
	static const struct {
		const char *code, *hint;
	} hints[] = {
		{ "SignatureDoesNotMatch", "the secret access key does not match the access key "
		  "id: check the credentials (-v names their source)" },
		{ "InvalidClientTokenId", "the access key id, or its session token, is not known: "
		  "check the credentials (-v names their source)" },
		{ "UnrecognizedClientException", "the access key id or session token is not "
		  "known: check the credentials (-v names their source)" },
		{ "InvalidAccessKeyId", "the access key id is not known: check the credentials "
		  "(-v names their source)" },
		{ "ExpiredToken", "the session token has expired: renew the credentials" },
		{ "ExpiredTokenException", "the session token has expired: renew the credentials" },
		{ "RequestTimeTooSkewed", "this machine's clock is off: set it right" },
		{ "InvalidSignatureException", "check the credentials (-v names their source)" },
	};
	size_t i, n = strlen(out);

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!strcmp(code, hints[i].code)) {
			snprintf(out + n, cap - n, " (hint: %s)", hints[i].hint);
			return;
		}
}

/* The decoders with the hint: one trampoline per service decoder (the rest client's
 * hook has no user data), assigned once and never changed. */
#define HINTED_MAX 8
static ml_rest_decode_fn hinted_inner[HINTED_MAX];
static pthread_mutex_t hinted_lock = PTHREAD_MUTEX_INITIALIZER;

static int decode_hinted(size_t slot, const struct ml_http_response *resp, char *out, size_t cap,
			 char *code_out)
{
	char code[ML_REST_CODE_MAX] = "";
	int ok = hinted_inner[slot](resp, out, cap, code);

	/* S3 and moto answer some refusals of JSON services in XML */
	if (!ok && hinted_inner[slot] != ml_rest_decode_aws_query)
		ok = ml_rest_decode_aws_query(resp, out, cap, code);
	if (!ok && hinted_inner[slot] != ml_rest_decode_aws_json)
		ok = ml_rest_decode_aws_json(resp, out, cap, code);
	if (ok)
		credential_hint(out, cap, code);
	if (code_out)
		memcpy(code_out, code, sizeof(code));
	return ok;
}

#define HINTED(n) \
	static int decode_hinted_##n(const struct ml_http_response *resp, char *out, size_t cap, \
				     char *code_out) \
	{ \
		return decode_hinted(n, resp, out, cap, code_out); \
	}
HINTED(0) HINTED(1) HINTED(2) HINTED(3) HINTED(4) HINTED(5) HINTED(6) HINTED(7)

static const ml_rest_decode_fn hinted[HINTED_MAX] = {
	decode_hinted_0, decode_hinted_1, decode_hinted_2, decode_hinted_3,
	decode_hinted_4, decode_hinted_5, decode_hinted_6, decode_hinted_7,
};

ml_rest_decode_fn ml_aws_decoder(ml_rest_decode_fn decode)
{
	ml_rest_decode_fn out = decode;
	size_t i;

	if (!decode)
		decode = ml_rest_decode_aws_query;
	pthread_mutex_lock(&hinted_lock);
	for (i = 0; i < HINTED_MAX; i++) {
		if (!hinted_inner[i])
			hinted_inner[i] = decode;
		if (hinted_inner[i] == decode) {
			out = hinted[i];
			break;
		}
	}
	pthread_mutex_unlock(&hinted_lock);
	return out;
}

int ml_aws_client(struct ml_awsauth *a, const struct ml_aws_service *svc, const char *region,
		  struct ml_rest **out, struct ml_error *err)
{
	struct ml_rest_opts o = { 0 };
	struct sign_ud *u;
	char *url = NULL;
	int overridden, rc;

	if (!region)
		region = a->region;
	rc = ml_aws_endpoint(a, svc, region, &url, &overridden, err);
	if (rc < 0)
		return rc;
	if (!signing_region(svc, region)) {
		free(url);
		return ml_error_set(err, ML_ECONFIG, "no AWS region to sign %s requests for (hint: "
				    "set deploy.aws.region or AWS_REGION)", svc->display);
	}
	u = ml_calloc(1, sizeof(*u));
	u->auth = a;
	u->svc = svc;
	u->region = ml_strdup(signing_region(svc, region));
	pthread_mutex_lock(&a->lock);
	u->next = a->uds;
	a->uds = u;
	pthread_mutex_unlock(&a->lock);
	o.service = svc->display;
	o.base_url = url;
	o.decode = ml_aws_decoder(svc->decode);
	o.sign = aws_sign;
	o.retryable = aws_retryable;
	o.ud = u;
	rc = ml_rest_new(out, &o, err);
	free(url);
	return rc;
}
