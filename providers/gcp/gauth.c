/* Google access tokens (see gauth.h), after google-auth-library's flows: the
 * jwt-bearer grant for a service account key (RFC 7523), the refresh_token grant
 * for gcloud's user credentials, the STS token exchange (RFC 8693) for workload
 * identity federation, IAM Credentials' generateAccessToken for impersonation, and
 * the metadata server. Every request carries its credential through the REST
 * client's sign hook, so that -vv never shows it. */
#include "gcp/gauth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deploy/endpoint.h"
#include "deploy/jwt.h"
#include "deploy/token.h"
#include "gcp/gcred.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/redact.h"
#include "wrap/digest.h"
#include "wrap/json.h"

#define DEFAULT_OAUTH2 "https://oauth2.googleapis.com"
#define DEFAULT_STS "https://sts.googleapis.com"
#define DEFAULT_IAM "https://iamcredentials.googleapis.com"
#define DEFAULT_METADATA "metadata.google.internal"
#define METADATA_TOKEN "/computeMetadata/v1/instance/service-accounts/default/token"
#define METADATA_PROJECT "/computeMetadata/v1/project/project-id"
#define METADATA_IDENTITY "/computeMetadata/v1/instance/service-accounts/default/identity"
#define ID_TOKEN_LIFE_S 3600	/* Google's ID tokens are valid for an hour */
#define ID_MAX 65536		/* an ID token from the metadata server */
/* A user's ID token has the OAuth client as its audience, whatever the audience
 * asked for: one cache entry, filled by any refresh grant. */
#define USER_ID_KEY "id_token (user)"
#define PROJECT_MAX 100	/* "example.com:my-project" is 30 + a domain */
#define ADC_FILE "application_default_credentials.json"
#define JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define ACCESS_TOKEN_TYPE "urn:ietf:params:oauth:token-type:access_token"
#define FORM "application/x-www-form-urlencoded"
#define ASSERTION_LIFE_S 3600
#define SUBJECT_MAX (1u << 20)	/* a subject token, from a file or a URL */
/* The metadata server answers at once where it exists; elsewhere the probe must not
 * hold a command up for long. */
#define PROBE_TIMEOUT_S 1
#define PROBE_RETRIES 1
#define FIX_HINT "run 'gcloud auth application-default login', or set " \
	"GOOGLE_APPLICATION_CREDENTIALS to a service account key file"

enum kind { K_NONE, K_ENV, K_FILE, K_METADATA };

/* The services asked, each with its own REST client (and name in messages). */
enum svc { SVC_OAUTH2, SVC_STS, SVC_IAM, SVC_SOURCE, SVC_METADATA, SVC_PROBE, SVC_N };

static const char *const svc_names[SVC_N] = {
	[SVC_OAUTH2] = "Google OAuth 2.0", [SVC_STS] = "Google STS",
	[SVC_IAM] = "IAM Credentials", [SVC_SOURCE] = "credential_source.url",
	[SVC_METADATA] = "metadata server", [SVC_PROBE] = "metadata server",
};

struct ml_gauth {
	pthread_mutex_t lock;		/* one token request at a time; guards what follows */
	enum kind kind;
	char *env_token;		/* CLOUDSDK_AUTH_ACCESS_TOKEN; wiped */
	struct ml_gcred *cred;
	const char *origin;		/* where cred's path came from */
	char *adc_path;			/* where the ADC file was looked for, or NULL */
	char *source;			/* for -v */
	int logged;			/* the source was named once */
	char *oauth2, *sts, *iam;	/* base URLs: the endpoint or its override */
	char *metadata;			/* "http://HOST" */
	int metadata_state;		/* 0 not asked, 1 answered, -1 silent */
	char *metadata_project;		/* its project/project-id, once read */
	int metadata_project_asked;
	char **headers;			/* the credential headers of the request being made */
	size_t nheaders;
	struct ml_rest *rest[SVC_N];
	struct ml_token_cache *tokens;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* ---- reading the environment ---- */

static char *adc_path(void)
{
	const char *dir = env("CLOUDSDK_CONFIG");
	const char *home = env("HOME");

	if (dir)
		return ml_path_join(dir, ADC_FILE);
	return home ? ml_asprintf("%s/.config/gcloud/%s", home, ADC_FILE) : NULL;
}

static char *describe(const struct ml_gcred *c, const char *origin)
{
	char *who = ml_gcred_impersonated_email(c->impersonation_url), *out;
	/* a URL may carry a credential in its query */
	char *url = c->source_url ? ml_redacted_url(c->source_url) : NULL;

	switch (c->type) {
	case ML_GCRED_SERVICE_ACCOUNT:
		out = ml_asprintf("service account key %s (%s, from %s)", c->path, c->client_email,
				  origin);
		break;
	case ML_GCRED_AUTHORIZED_USER:
		out = ml_asprintf("authorized_user credentials %s (from %s)", c->path, origin);
		break;
	case ML_GCRED_EXTERNAL_ACCOUNT:
		out = ml_asprintf("workload identity federation %s (%s%s%s%s, from %s)", c->path,
				  c->source_file ? "subject token file " : "subject token URL ",
				  c->source_file ? c->source_file : url,
				  who ? ", as " : "", who ? who : "", origin);
		break;
	default:
		out = ml_asprintf("impersonated service account %s (source: %s credentials in %s, "
				  "from %s)", who ? who : "?", ml_gcred_type_name(c->source->type),
				  c->path, origin);
		break;
	}
	free(who);
	free(url);
	return out;
}

static int read_file_credential(struct ml_gauth *g, struct ml_error *err)
{
	const char *path = env("GOOGLE_APPLICATION_CREDENTIALS");
	int rc;

	g->adc_path = adc_path();
	if (path) {
		g->origin = "GOOGLE_APPLICATION_CREDENTIALS";
	} else if (g->adc_path && access(g->adc_path, F_OK) == 0) {
		path = g->adc_path;
		g->origin = "the ADC file";
	} else {
		return 0;
	}
	rc = ml_gcred_read(&g->cred, path, g->origin, err);
	if (rc < 0)
		return rc;
	g->kind = K_FILE;
	g->source = describe(g->cred, g->origin);
	return 0;
}

/* GCE_METADATA_HOST is a host[:port], as Google's libraries take it. */
static int read_metadata_host(struct ml_gauth *g, struct ml_error *err)
{
	const char *host = env("GCE_METADATA_HOST");

	if (!host)
		host = DEFAULT_METADATA;
	else if (strstr(host, "://") || strcspn(host, "/ \t\r\n?#@") != strlen(host))
		return ml_error_set(err, ML_EUSAGE, "GCE_METADATA_HOST '%s' is not a host[:port] "
				    "(hint: e.g. 169.254.169.254 or metadata.google.internal:80)",
				    host);
	g->metadata = ml_asprintf("http://%s", host);
	return 0;
}

int ml_gauth_new(struct ml_gauth **out, const struct ml_config *cfg, struct ml_error *err)
{
	struct ml_gauth *g = ml_calloc(1, sizeof(*g));
	int rc;

	pthread_mutex_init(&g->lock, NULL);
	g->tokens = ml_token_cache_new();
	if ((rc = ml_endpoint(&g->oauth2, cfg, "OAUTH2", DEFAULT_OAUTH2, err)) < 0 ||
	    (rc = ml_endpoint(&g->sts, cfg, "STS", DEFAULT_STS, err)) < 0 ||
	    (rc = ml_endpoint(&g->iam, cfg, "IAMCREDENTIALS", DEFAULT_IAM, err)) < 0 ||
	    (rc = read_metadata_host(g, err)) < 0)
		goto out;
	if (env("CLOUDSDK_AUTH_ACCESS_TOKEN")) {
		g->kind = K_ENV;
		g->env_token = ml_strdup(env("CLOUDSDK_AUTH_ACCESS_TOKEN"));
		g->source = ml_strdup("CLOUDSDK_AUTH_ACCESS_TOKEN");
	} else {
		rc = read_file_credential(g, err);
	}
out:
	if (rc < 0) {
		ml_gauth_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void ml_gauth_free(struct ml_gauth *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < SVC_N; i++)
		ml_rest_free(g->rest[i]);
	ml_token_cache_free(g->tokens);
	ml_free_secret(g->env_token);
	ml_gcred_free(g->cred);
	free(g->adc_path);
	free(g->source);
	free(g->oauth2);
	free(g->sts);
	free(g->iam);
	free(g->metadata);
	free(g->metadata_project);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

const char *ml_gauth_source(const struct ml_gauth *g)
{
	return g->source;
}

const char *ml_gauth_project(const struct ml_gauth *g)
{
	return g->cred ? g->cred->project : g->metadata_project;
}

int ml_gauth_configured(const struct ml_gauth *g)
{
	return g->kind == K_ENV || g->kind == K_FILE;
}

/* ---- requests ---- */

/* The sign hook of every client here: the headers set for the request being made
 * (the lock is held around each call). */
static int call_sign(void *ud, const struct ml_rest_sign *req, char ***headers,
		     size_t *nheaders, struct ml_error *err)
{
	struct ml_gauth *g = ud;
	size_t i;

	(void)req;
	(void)err;
	*headers = ml_calloc(g->nheaders + 1, sizeof(char *));
	for (i = 0; i < g->nheaders; i++)
		(*headers)[i] = ml_strdup(g->headers[i]);
	*nheaders = g->nheaders;
	return 0;
}

static int client(struct ml_gauth *g, enum svc s, const char *base, struct ml_error *err)
{
	struct ml_rest_opts o = { .service = svc_names[s], .base_url = base,
				  .decode = ml_rest_decode_google, .sign = call_sign, .ud = g };

	if (g->rest[s])
		return 0;
	if (s == SVC_PROBE) {
		o.timeout_s = PROBE_TIMEOUT_S;
		o.max_retries = PROBE_RETRIES;
	}
	return ml_rest_new(&g->rest[s], &o, err);
}

/* The URL to ask: one on Google's default host goes to the endpoint's override. */
static char *route(const char *url, const char *default_base, const char *base)
{
	size_t n = strlen(default_base);

	if (strcmp(default_base, base) && !strncmp(url, default_base, n) &&
	    (url[n] == '/' || !url[n]))
		return ml_asprintf("%s%s", base, url + n);
	return ml_strdup(url);
}

/* One request with the credential headers hdrs (borrowed); JSON body or a form. A
 * 4xx answer refuses the credential: -ML_EAUTH. */
static int call(struct ml_gauth *g, enum svc s, const char *base, const char *method,
		const char *url, const ml_json *json, const struct ml_buf *form, char **hdrs,
		size_t nhdrs, unsigned flags, struct ml_rest_result *res, struct ml_error *err)
{
	int rc = client(g, s, base, err);

	if (rc < 0)
		return rc;
	g->headers = hdrs;
	g->nheaders = nhdrs;
	/* asking for a token twice does no harm: retried like an idempotent call */
	if (form)
		rc = ml_rest_call_raw(g->rest[s], method, url, FORM, form->data, form->len,
				      flags | ML_REST_IDEMPOTENT, res, err);
	else
		rc = ml_rest_call(g->rest[s], method, url, json, flags | ML_REST_IDEMPOTENT, res,
				  err);
	g->headers = NULL;
	g->nheaders = 0;
	if (rc < 0 && res->status >= 400 && res->status < 500) {
		if (err)
			err->code = ML_EAUTH;
		rc = -ML_EAUTH;
	}
	return rc;
}

static void result_wipe(struct ml_rest_result *res)
{
	ml_wipe(res->resp.body.data, res->resp.body.len);
	ml_rest_result_dispose(res);
}

static void form_add(struct ml_buf *f, const char *name, const char *value)
{
	ml_buf_printf(f, "%s%s=", f->len ? "&" : "", name);
	ml_http_urlencode(f, value);
}

static void wipe_buf(struct ml_buf *b)
{
	ml_wipe(b->data, b->len);
	ml_buf_dispose(b);
}

/* Appends " (hint: ...)" to the message in err. */
static int add_hint(struct ml_error *err, int rc, const char *hint)
{
	char msg[ML_ERROR_MAX];

	if (!err || !hint)
		return rc;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return ml_error_set(err, -rc, "%s (hint: %s)", msg, hint);
}

/* access_token and expires_in (OAuth, STS, metadata server). */
static int take_oauth(const ml_json *body, const char *what, char **token, int64_t *life,
		      struct ml_error *err)
{
	const char *t = ml_json_get_str(body, "access_token");

	if (!t || !*t)
		return ml_error_set(err, ML_EPROTO, "%s answered without an access token", what);
	if (ml_json_get_int(body, "expires_in", life) < 0)
		*life = 0;
	*token = ml_strdup(t);
	return 0;
}

/* accessToken and expireTime (IAM Credentials). */
static int take_iam(const ml_json *body, char **token, int64_t *life, struct ml_error *err)
{
	const char *t = ml_json_get_str(body, "accessToken");
	const char *exp = ml_json_get_str(body, "expireTime");
	struct tm tm = { 0 };

	if (!t || !*t)
		return ml_error_set(err, ML_EPROTO, "IAM Credentials answered without an access "
				    "token");
	*life = 0;
	if (exp && strptime(exp, "%Y-%m-%dT%H:%M:%S", &tm))
		*life = (int64_t)(timegm(&tm) - time(NULL));
	if (*life <= 0)
		*life = 300;
	*token = ml_strdup(t);
	return 0;
}

/* An ID token in the member name of body (an hour's life). */
static int take_id(const ml_json *body, const char *name, const char *what, char **token,
		   int64_t *life, struct ml_error *err)
{
	const char *t = ml_json_get_str(body, name);

	if (!t || !*t)
		return ml_error_set(err, ML_EPROTO, "%s answered without an ID token ('%s')", what,
				    name);
	*token = ml_strdup(t);
	*life = ID_TOKEN_LIFE_S;
	return 0;
}

/* ---- the grants ---- */

/* For an access token (target NULL: the scope), or an ID token for the audience
 * target (target_audience instead of a scope, as google-auth's IDTokenCredentials). */
static int assertion(char **out, const struct ml_gcred *c, const char *aud, const char *target,
		     struct ml_error *err)
{
	ml_json *claims = ml_json_object_new();
	int64_t now = (int64_t)time(NULL);
	int rc;

	ml_json_set_str(claims, "iss", c->client_email);
	if (target)
		ml_json_set_str(claims, "target_audience", target);
	else
		ml_json_set_str(claims, "scope", ML_GAUTH_SCOPE);
	ml_json_set_str(claims, "aud", aud);
	ml_json_set_int(claims, "iat", now);
	ml_json_set_int(claims, "exp", now + ASSERTION_LIFE_S);
	rc = ml_jwt_sign_rs256(out, claims, c->private_key, strlen(c->private_key),
			       c->private_key_id, NULL, err);
	ml_json_free(claims);
	if (rc < 0)
		ml_error_prefix(err, "service account key '%s': field 'private_key'", c->path);
	return rc;
}

/* What to do about the token endpoint's invalid_grant for a key. */
static const char *sa_hint(const struct ml_error *err)
{
	if (err && (strstr(err->msg, "timeframe") || strstr(err->msg, "short-lived")))
		return "this machine's clock is off: set it right (NTP)";
	if (err && strstr(err->msg, "audience"))
		return "the key's token_uri should be https://oauth2.googleapis.com/token";
	return "the key may have been deleted or its service account disabled or deleted: "
	       "create a new key with 'gcloud iam service-accounts keys create'";
}

/* The jwt-bearer grant: an access token (target NULL), or the id_token for the
 * audience target. */
static int grant_service_account(struct ml_gauth *g, const struct ml_gcred *c, const char *target,
				 char **token, int64_t *life, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf form = ML_BUF_INIT;
	char *aud = c->token_uri ? ml_strdup(c->token_uri) :
		    ml_asprintf("%s/token", DEFAULT_OAUTH2);
	char *url = route(aud, DEFAULT_OAUTH2, g->oauth2), *jwt = NULL;
	int rc;

	rc = assertion(&jwt, c, aud, target, err);
	if (rc < 0)
		goto out;
	form_add(&form, "grant_type", JWT_BEARER);
	form_add(&form, "assertion", jwt);
	rc = call(g, SVC_OAUTH2, g->oauth2, "POST", url, NULL, &form, NULL, 0, 0, &res, err);
	if (rc == 0 && target)
		rc = take_id(res.body, "id_token", svc_names[SVC_OAUTH2], token, life, err);
	else if (rc == 0)
		rc = take_oauth(res.body, svc_names[SVC_OAUTH2], token, life, err);
	else if (rc == -ML_EAUTH && !strcmp(res.code, "invalid_grant"))
		rc = add_hint(err, rc, sa_hint(err));
out:
	result_wipe(&res);
	wipe_buf(&form);
	ml_free_secret(jwt);
	free(aud);
	free(url);
	return rc;
}

static int token_service_account(struct ml_gauth *g, const struct ml_gcred *c, char **token,
				 int64_t *life, struct ml_error *err)
{
	return grant_service_account(g, c, NULL, token, life, err);
}

/* The refresh_token grant: its access token, or (id) the id_token that comes with
 * it (a user's, as `gcloud auth print-identity-token` gives). */
static int grant_user(struct ml_gauth *g, const struct ml_gcred *c, int id, char **token,
		      int64_t *life, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf form = ML_BUF_INIT;
	char *url = c->token_uri ? route(c->token_uri, DEFAULT_OAUTH2, g->oauth2) :
		    ml_asprintf("%s/token", g->oauth2);
	int rc;

	form_add(&form, "grant_type", "refresh_token");
	form_add(&form, "client_id", c->client_id);
	form_add(&form, "client_secret", c->client_secret);
	form_add(&form, "refresh_token", c->refresh_token);
	rc = call(g, SVC_OAUTH2, g->oauth2, "POST", url, NULL, &form, NULL, 0, 0, &res, err);
	if (rc == 0 && id)
		rc = take_id(res.body, "id_token", svc_names[SVC_OAUTH2], token, life, err);
	else if (rc == 0)
		rc = take_oauth(res.body, svc_names[SVC_OAUTH2], token, life, err);
	/* the ID token that came with the access token spares a second grant */
	if (rc == 0 && !id && c == g->cred && ml_json_get_str(res.body, "id_token"))
		ml_token_cache_put(g->tokens, USER_ID_KEY, ml_json_get_str(res.body, "id_token"),
				   ID_TOKEN_LIFE_S);
	else if (rc == -ML_EAUTH && !strcmp(res.code, "invalid_grant"))
		rc = add_hint(err, rc, "the login has expired or was revoked: run 'gcloud auth "
			      "application-default login' again");
	result_wipe(&res);
	wipe_buf(&form);
	free(url);
	return rc;
}

static int token_user(struct ml_gauth *g, const struct ml_gcred *c, char **token, int64_t *life,
		      struct ml_error *err)
{
	return grant_user(g, c, 0, token, life, err);
}

/* The subject token of a text or JSON document. */
static int subject_from(const struct ml_gcred *c, const char *where, struct ml_buf *doc,
			char **token, struct ml_error *err)
{
	const char *t;
	ml_json *j;
	size_t n = doc->len;

	if (!c->source_field) {
		while (n && strchr(" \t\r\n", doc->data[n - 1]))
			n--;
		if (!n)
			return ml_error_set(err, ML_EAUTH, "the subject token from %s is empty",
					    where);
		*token = ml_strndup(doc->data, n);
		return 0;
	}
	j = ml_json_parse_secret(doc->data, doc->len, NULL);
	t = ml_json_get_str(j, c->source_field);
	if (t && *t)
		*token = ml_strdup(t);
	ml_json_free(j);
	if (!*token)
		return ml_error_set(err, ML_EAUTH, "%s is not a JSON object with a string '%s' "
				    "(credential_source.format.subject_token_field_name)", where,
				    c->source_field);
	return 0;
}

/* Read again for every exchange: the CI platform rotates it. */
static int subject_token(struct ml_gauth *g, const struct ml_gcred *c, char **token,
			 struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf doc = ML_BUF_INIT;
	char *where, *url;
	int rc;

	*token = NULL;
	if (c->source_file) {
		where = ml_asprintf("credential_source.file '%s'", c->source_file);
		ml_buf_init(&doc, SUBJECT_MAX);
		rc = ml_read_file(c->source_file, SUBJECT_MAX, &doc, err);
		if (rc < 0) {
			ml_error_prefix(err, "external_account configuration '%s'", c->path);
			if (err)
				err->code = ML_EAUTH;
			rc = -ML_EAUTH;
		}
	} else {
		url = ml_redacted_url(c->source_url);
		where = ml_asprintf("credential_source.url %s", url);
		free(url);
		rc = call(g, SVC_SOURCE, c->source_url, "GET", c->source_url, NULL, NULL,
			  c->source_headers, c->nsource_headers, ML_REST_RAW, &res, err);
		if (rc == 0)
			ml_buf_add(&doc, res.resp.body.data, res.resp.body.len);
	}
	if (rc == 0)
		rc = subject_from(c, where, &doc, token, err);
	result_wipe(&res);
	wipe_buf(&doc);
	free(where);
	return rc;
}

static char *basic_header(const char *user, const char *password)
{
	struct ml_buf raw = ML_BUF_INIT, b64 = ML_BUF_INIT;
	char *out;

	ml_buf_printf(&raw, "%s:%s", user, password);
	ml_base64_encode(&b64, raw.data, raw.len);
	out = ml_asprintf("Authorization: Basic %s", ml_buf_str(&b64));
	wipe_buf(&raw);
	wipe_buf(&b64);
	return out;
}

static int token_sts(struct ml_gauth *g, const struct ml_gcred *c, char **token, int64_t *life,
		     struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf form = ML_BUF_INIT;
	char *url = c->token_url ? route(c->token_url, DEFAULT_STS, g->sts) :
		    ml_asprintf("%s/v1/token", g->sts);
	char *subject = NULL, *basic = NULL;
	struct ml_buf options = ML_BUF_INIT;
	ml_json *opt;
	int rc;

	rc = subject_token(g, c, &subject, err);
	if (rc < 0)
		goto out;
	form_add(&form, "grant_type", TOKEN_EXCHANGE);
	form_add(&form, "audience", c->audience);
	form_add(&form, "scope", ML_GAUTH_SCOPE);
	form_add(&form, "requested_token_type", ACCESS_TOKEN_TYPE);
	form_add(&form, "subject_token", subject);
	form_add(&form, "subject_token_type", c->subject_token_type);
	if (c->client_id && c->client_secret)
		basic = basic_header(c->client_id, c->client_secret);
	else if (c->user_project) {
		/* a workforce pool without a client: the project that is billed */
		opt = ml_json_object_new();
		ml_json_set_str(opt, "userProject", c->user_project);
		ml_json_dump(opt, &options);
		form_add(&form, "options", ml_buf_str(&options));
		ml_json_free(opt);
		ml_buf_dispose(&options);
	}
	rc = call(g, SVC_STS, g->sts, "POST", url, NULL, &form, basic ? &basic : NULL,
		  basic ? 1 : 0, 0, &res, err);
	if (rc == 0)
		rc = take_oauth(res.body, svc_names[SVC_STS], token, life, err);
	else if (rc == -ML_EAUTH)
		rc = add_hint(err, rc, "check that the workload identity provider in 'audience' "
			      "exists and trusts the issuer of the subject token");
out:
	result_wipe(&res);
	wipe_buf(&form);
	ml_free_secret(subject);
	ml_free_secret(basic);
	free(url);
	return rc;
}

/* IAM Credentials' generateAccessToken for the service account url names, as the
 * holder of bearer. */
static int token_generate(struct ml_gauth *g, const char *imp_url, const char *bearer,
			  long lifetime_s, char *const *delegates, size_t ndelegates, char **token,
			  int64_t *life, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	ml_json *body = ml_json_object_new(), *scope = ml_json_array_new(), *d;
	char *url = route(imp_url, DEFAULT_IAM, g->iam);
	char *auth = ml_asprintf("Authorization: Bearer %s", bearer);
	char lifetime[32];
	size_t i;
	int rc;

	ml_json_append(scope, ml_json_string_new(ML_GAUTH_SCOPE));
	ml_json_set(body, "scope", scope);
	snprintf(lifetime, sizeof(lifetime), "%lds", lifetime_s);
	ml_json_set_str(body, "lifetime", lifetime);
	if (ndelegates) {
		d = ml_json_array_new();
		for (i = 0; i < ndelegates; i++)
			ml_json_append(d, ml_json_string_new(delegates[i]));
		ml_json_set(body, "delegates", d);
	}
	rc = call(g, SVC_IAM, g->iam, "POST", url, body, NULL, &auth, 1, 0, &res, err);
	if (rc == 0)
		rc = take_iam(res.body, token, life, err);
	else if (rc == -ML_EAUTH && res.status == 403)
		rc = add_hint(err, rc, "grant roles/iam.serviceAccountTokenCreator on the service "
			      "account to the identity that impersonates it");
	result_wipe(&res);
	ml_json_free(body);
	ml_free_secret(auth);
	free(url);
	return rc;
}

static int token_of(struct ml_gauth *g, const struct ml_gcred *c, char **token, int64_t *life,
		    struct ml_error *err);

static int token_impersonated(struct ml_gauth *g, const struct ml_gcred *c, char **token,
			      int64_t *life, struct ml_error *err)
{
	char *src = NULL;
	int64_t src_life;
	int rc;

	rc = c->type == ML_GCRED_IMPERSONATED ? token_of(g, c->source, &src, &src_life, err) :
	     token_sts(g, c, &src, &src_life, err);
	if (rc == 0 && !c->impersonation_url) {
		*token = src;
		*life = src_life;
		return 0;
	}
	if (rc == 0)
		rc = token_generate(g, c->impersonation_url, src, c->lifetime_s, c->delegates,
				    c->ndelegates, token, life, err);
	ml_free_secret(src);
	return rc;
}

static int token_of(struct ml_gauth *g, const struct ml_gcred *c, char **token, int64_t *life,
		    struct ml_error *err)
{
	switch (c->type) {
	case ML_GCRED_SERVICE_ACCOUNT:
		return token_service_account(g, c, token, life, err);
	case ML_GCRED_AUTHORIZED_USER:
		return token_user(g, c, token, life, err);
	default:
		return token_impersonated(g, c, token, life, err);
	}
}

/* IAM Credentials' generateIdToken for the service account a
 * service_account_impersonation_url (…:generateAccessToken) names. */
static int id_impersonated(struct ml_gauth *g, const struct ml_gcred *c, const char *audience,
			   char **token, int64_t *life, struct ml_error *err)
{
	static const char suffix[] = ":generateAccessToken";
	struct ml_rest_result res = { 0 };
	ml_json *body = NULL, *d;
	char *src = NULL, *url = NULL, *auth = NULL;
	size_t i, n = strlen(c->impersonation_url), k = sizeof(suffix) - 1;
	int64_t src_life;
	int rc;

	if (n < k || strcmp(c->impersonation_url + n - k, suffix))
		return ml_error_set(err, ML_EAUTH, "'%s': service_account_impersonation_url does not "
				    "end in '%s' (hint: it names IAM Credentials' "
				    "projects/-/serviceAccounts/EMAIL%s)", c->path, suffix, suffix);
	rc = c->type == ML_GCRED_IMPERSONATED ? token_of(g, c->source, &src, &src_life, err) :
	     token_sts(g, c, &src, &src_life, err);
	if (rc < 0)
		return rc;
	auth = ml_asprintf("%.*s:generateIdToken", (int)(n - k), c->impersonation_url);
	url = route(auth, DEFAULT_IAM, g->iam);
	free(auth);
	auth = ml_asprintf("Authorization: Bearer %s", src);
	body = ml_json_object_new();
	ml_json_set_str(body, "audience", audience);
	ml_json_set(body, "includeEmail", ml_json_bool_new(1));
	if (c->ndelegates) {
		d = ml_json_array_new();
		for (i = 0; i < c->ndelegates; i++)
			ml_json_append(d, ml_json_string_new(c->delegates[i]));
		ml_json_set(body, "delegates", d);
	}
	rc = call(g, SVC_IAM, g->iam, "POST", url, body, NULL, &auth, 1, 0, &res, err);
	if (rc == 0)
		rc = take_id(res.body, "token", svc_names[SVC_IAM], token, life, err);
	else if (rc == -ML_EAUTH && res.status == 403)
		rc = add_hint(err, rc, "grant roles/iam.serviceAccountOpenIdTokenCreator (or "
			      "roles/iam.serviceAccountTokenCreator) on the service account to the "
			      "identity that impersonates it");
	result_wipe(&res);
	ml_json_free(body);
	ml_free_secret(auth);
	ml_free_secret(src);
	free(url);
	return rc;
}

/* ---- the metadata server ---- */

/* It is there when it answers with the header Metadata-Flavor: Google. */
static int metadata_probe(struct ml_gauth *g)
{
	struct ml_rest_result res = { 0 };
	struct ml_error err = { 0, "" };
	char header[] = "Metadata-Flavor: Google", *flavor = header;
	const char *v;

	if (g->metadata_state)
		return g->metadata_state > 0;
	call(g, SVC_PROBE, g->metadata, "GET", "/", NULL, NULL, &flavor, 1, ML_REST_RAW, &res,
	     &err);
	v = res.status ? ml_http_response_header(&res.resp, "Metadata-Flavor") : NULL;
	g->metadata_state = v && !strcmp(v, "Google") ? 1 : -1;
	ml_log(ML_LOG_INFO, g->metadata_state > 0 ? "gcp: the metadata server answered at %s" :
	       "gcp: no metadata server at %s", g->metadata);
	result_wipe(&res);
	if (g->metadata_state > 0) {
		g->kind = K_METADATA;
		g->source = ml_asprintf("metadata server (%s)", g->metadata);
	}
	return g->metadata_state > 0;
}

static int token_metadata(struct ml_gauth *g, char **token, int64_t *life, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	char header[] = "Metadata-Flavor: Google", *flavor = header;
	int rc;

	rc = call(g, SVC_METADATA, g->metadata, "GET", METADATA_TOKEN, NULL, NULL, &flavor, 1, 0,
		  &res, err);
	if (rc == 0)
		rc = take_oauth(res.body, svc_names[SVC_METADATA], token, life, err);
	else if (rc == -ML_EAUTH)
		rc = add_hint(err, rc, "attach a service account to this machine");
	result_wipe(&res);
	return rc;
}

/* A project id as the metadata server gives it: letters, digits, '-', '.', ':'. */
static int project_ok(const char *p, size_t n)
{
	size_t i;

	if (!n || n > PROJECT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || strchr("-.:", p[i])))
			return 0;
	return 1;
}

/* project/project-id, once; called with the lock held. */
static void metadata_project(struct ml_gauth *g)
{
	struct ml_rest_result res = { 0 };
	struct ml_error err = { 0, "" };
	char header[] = "Metadata-Flavor: Google", *flavor = header;
	const struct ml_buf *b;
	size_t n;

	if (g->metadata_project_asked)
		return;
	g->metadata_project_asked = 1;
	if (call(g, SVC_METADATA, g->metadata, "GET", METADATA_PROJECT, NULL, NULL, &flavor, 1,
		 ML_REST_RAW, &res, &err) < 0) {
		ml_log(ML_LOG_INFO, "gcp: no project from the metadata server: %s", err.msg);
	} else {
		b = &res.resp.body;
		for (n = b->len; n && strchr(" \t\r\n", b->data[n - 1]); n--)
			;
		if (project_ok(b->data, n))
			g->metadata_project = ml_strndup(b->data, n);
		else
			ml_log(ML_LOG_INFO, "gcp: the metadata server's project-id is not a "
			       "project id (%zu bytes)", b->len);
	}
	ml_rest_result_dispose(&res);
}

const char *ml_gauth_lookup_project(struct ml_gauth *g)
{
	const char *p;

	pthread_mutex_lock(&g->lock);
	if (!g->cred && (g->kind == K_METADATA || (g->kind == K_NONE && metadata_probe(g))))
		metadata_project(g);
	p = ml_gauth_project(g);
	pthread_mutex_unlock(&g->lock);
	return p;
}

int ml_gauth_available(struct ml_gauth *g)
{
	int ok;

	pthread_mutex_lock(&g->lock);
	ok = g->kind != K_NONE || metadata_probe(g);
	pthread_mutex_unlock(&g->lock);
	return ok;
}

/* ---- tokens ---- */

static int none_found(const struct ml_gauth *g, struct ml_error *err)
{
	return ml_error_set(err, ML_EAUTH, "no google credentials: CLOUDSDK_AUTH_ACCESS_TOKEN "
			    "and GOOGLE_APPLICATION_CREDENTIALS are not set, %s%s%s, and no "
			    "metadata server answered at %s (hint: " FIX_HINT ")",
			    g->adc_path ? "there is no application default credentials file '" :
			    "HOME is not set (no application default credentials file)",
			    g->adc_path ? g->adc_path : "", g->adc_path ? "'" : "", g->metadata);
}

static int fetch(struct ml_gauth *g, char **token, int64_t *life, struct ml_error *err)
{
	if (g->kind == K_ENV) {
		*token = ml_strdup(g->env_token);
		*life = 0;
		return 0;
	}
	if (g->kind == K_METADATA)
		return token_metadata(g, token, life, err);
	return token_of(g, g->cred, token, life, err);
}

int ml_gauth_token(struct ml_gauth *g, char **token, struct ml_error *err)
{
	char *t;
	int64_t life = 0;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	t = ml_token_cache_get(g->tokens, ML_GAUTH_SCOPE);
	if (t)
		goto out;
	if (g->kind == K_NONE && !metadata_probe(g)) {
		rc = none_found(g, err);
		goto out;
	}
	if (!g->logged || g->kind != K_ENV)
		ml_log(ML_LOG_INFO, "gcp: access token from %s", g->source);
	g->logged = 1;
	rc = fetch(g, &t, &life, err);
	if (rc < 0) {
		ml_error_prefix(err, "google credentials from %s", g->source);
		goto out;
	}
	if (g->kind != K_ENV)
		ml_token_cache_put(g->tokens, ML_GAUTH_SCOPE, t, life > 0 ? life : 300);
out:
	pthread_mutex_unlock(&g->lock);
	if (rc == 0)
		*token = t;
	return rc;
}

void ml_gauth_invalidate(struct ml_gauth *g)
{
	ml_token_cache_drop(g->tokens, ML_GAUTH_SCOPE);
}

int ml_gauth_unauthorized(void *ud, const struct ml_http_response *resp)
{
	struct ml_gauth *g = ud;

	(void)resp;
	if (g->kind == K_ENV)
		return 0;
	ml_log(ML_LOG_INFO, "gcp: the access token from %s was refused (HTTP 401): getting a "
	       "new one", g->source);
	ml_gauth_invalidate(g);
	return 1;
}

int ml_gauth_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		  struct ml_error *err)
{
	char *token = NULL;
	int rc;

	(void)req;
	rc = ml_gauth_token(ud, &token, err);
	if (rc < 0)
		return rc;
	*headers = ml_calloc(1, sizeof(**headers));
	(*headers)[0] = ml_asprintf("Authorization: Bearer %s", token);
	*nheaders = 1;
	ml_free_secret(token);
	return 0;
}

/* ---- ID tokens ---- */

static int id_metadata(struct ml_gauth *g, const char *audience, char **token, int64_t *life,
		       struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf url = ML_BUF_INIT;
	char header[] = "Metadata-Flavor: Google", *flavor = header;
	const struct ml_buf *b;
	size_t n;
	int rc;

	ml_buf_adds(&url, METADATA_IDENTITY "?audience=");
	ml_http_urlencode(&url, audience);
	ml_buf_adds(&url, "&format=full");
	rc = call(g, SVC_METADATA, g->metadata, "GET", ml_buf_str(&url), NULL, NULL, &flavor, 1,
		  ML_REST_RAW, &res, err);
	if (rc == 0) {
		b = &res.resp.body;
		for (n = b->len; n && strchr(" \t\r\n", b->data[n - 1]); n--)
			;
		if (!n || n > ID_MAX || memchr(b->data, '\n', n))
			rc = ml_error_set(err, ML_EPROTO, "the metadata server answered %s without "
					  "an ID token", METADATA_IDENTITY);
		else {
			*token = ml_strndup(b->data, n);
			*life = ID_TOKEN_LIFE_S;
		}
	} else if (rc == -ML_EAUTH) {
		rc = add_hint(err, rc, "attach a service account to this machine");
	}
	result_wipe(&res);
	ml_buf_dispose(&url);
	return rc;
}

static int cannot_mint(const struct ml_gauth *g, const char *why, struct ml_error *err)
{
	return ml_error_set(err, ML_ENOTFOUND, "google credentials from %s (%s) cannot mint an "
			    "ID token", g->source, why);
}

static int fetch_id(struct ml_gauth *g, const char *audience, char **token, int64_t *life,
		    struct ml_error *err)
{
	const struct ml_gcred *c = g->cred;

	if (g->kind == K_ENV)
		return cannot_mint(g, "an access token as it is", err);
	if (g->kind == K_METADATA)
		return id_metadata(g, audience, token, life, err);
	switch (c->type) {
	case ML_GCRED_SERVICE_ACCOUNT:
		return grant_service_account(g, c, audience, token, life, err);
	case ML_GCRED_AUTHORIZED_USER:
		return grant_user(g, c, 1, token, life, err);
	default:
		if (!c->impersonation_url)
			return cannot_mint(g, "workload identity federation without "
					   "service_account_impersonation_url", err);
		return id_impersonated(g, c, audience, token, life, err);
	}
}

int ml_gauth_id_token(struct ml_gauth *g, const char *audience, char **token,
		      struct ml_error *err)
{
	char *key = g->kind == K_FILE && g->cred->type == ML_GCRED_AUTHORIZED_USER ?
		    ml_strdup(USER_ID_KEY) : ml_asprintf("id_token %s", audience), *t;
	int64_t life = 0;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	t = ml_token_cache_get(g->tokens, key);
	if (t)
		goto out;
	if (g->kind == K_NONE && !metadata_probe(g)) {
		rc = none_found(g, err);
		goto out;
	}
	rc = fetch_id(g, audience, &t, &life, err);
	if (rc == -ML_ENOTFOUND)
		goto out;
	if (rc < 0) {
		ml_error_prefix(err, "an ID token for %s from %s", audience, g->source);
		goto out;
	}
	ml_log(ML_LOG_INFO, "gcp: ID token for %s from %s", audience, g->source);
	ml_token_cache_put(g->tokens, key, t, life > 0 ? life : 300);
out:
	pthread_mutex_unlock(&g->lock);
	free(key);
	if (rc == 0)
		*token = t;
	return rc;
}
