/* Microsoft Entra ID access tokens (see entra.h). Client credentials go to the
 * authority's v2.0 token endpoint as a form (client_credentials grant); managed
 * identity asks App Service's IDENTITY_ENDPOINT or the instance metadata service. */
#include "azure/entra.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "deploy/endpoint.h"
#include "deploy/jwt.h"
#include "deploy/rest.h"
#include "deploy/token.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/redact.h"
#include "wrap/digest.h"
#include "wrap/json.h"

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"
#define IMDS_PATH "/metadata/identity/oauth2/token"
#define IMDS_API "2018-02-01"
#define APP_SERVICE_API "2019-08-01"
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define FILE_MAX (1u << 20)	/* a certificate or a federated token */
#define ERROR_BODY_MAX (1u << 20)	/* larger error bodies are not parsed */
#define LINE_TEXT_MAX 600	/* of server text taken into one error line */
/* IMDS answers at once when it is there; a laptop has nothing at its address, and
 * the probe must not hold up a command for long. */
#define PROBE_TIMEOUT_S 1
#define PROBE_RETRIES 1
#define TRIED_HINT "set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, " \
	"AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE, or run where a " \
	"managed identity is assigned"

enum source { SRC_NONE, SRC_SECRET, SRC_CERT, SRC_FEDERATED, SRC_APP_SERVICE, SRC_IMDS };

static const char *const source_names[] = {
	[SRC_NONE] = NULL,
	[SRC_SECRET] = "environment (AZURE_CLIENT_SECRET)",
	[SRC_CERT] = "environment (AZURE_CLIENT_CERTIFICATE_PATH)",
	[SRC_FEDERATED] = "workload identity (AZURE_FEDERATED_TOKEN_FILE)",
	[SRC_APP_SERVICE] = "managed identity (IDENTITY_ENDPOINT)",
	[SRC_IMDS] = "managed identity (IMDS)",
};

struct ml_entra {
	pthread_mutex_t lock;		/* one token request at a time; guards what follows */
	enum source src;
	char *tenant, *client_id;	/* client_id alone: a user-assigned managed identity */
	char *secret;			/* AZURE_CLIENT_SECRET; wiped */
	char *cert_path, *token_file;
	char *authority;		/* "https://login.microsoftonline.com" */
	char *identity_endpoint;
	char *identity_header;		/* IDENTITY_HEADER; wiped */
	char *imds;			/* base URL, when managed identity may be IMDS */
	int imds_explicit;		/* MLDEPLOY_ENDPOINT_IMDS or endpoints.imds */
	int imds_state;			/* 0 not asked, 1 answered, -1 silent */
	struct ml_rest *login, *mi, *probe;
	struct ml_token_cache *tokens;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* ---- errors ---- */

void ml_entra_error_line(char *out, size_t cap, const char *code, const char *message)
{
	struct ml_buf raw = ML_BUF_INIT, red = ML_BUF_INIT;
	const char *p;
	size_t n = 0;

	if (!cap)
		return;
	if (code && *code)
		ml_buf_printf(&raw, "%s%s", code, message && *message ? ": " : "");
	if (message)
		ml_buf_add(&raw, message, strcspn(message, "\r\n"));
	ml_redact_text(&red, ml_buf_str(&raw), raw.len, LINE_TEXT_MAX);
	for (p = ml_buf_str(&red); *p && n + 1 < cap; p++)
		out[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	ml_sanitize(out);
	ml_buf_dispose(&raw);
	ml_buf_dispose(&red);
}

/* An error code as a short identifier: letters, digits and "_.:-" only. */
static void put_code(char *code_out, const char *code)
{
	size_t n = 0;

	if (!code_out)
		return;
	for (; code && *code && n + 1 < ML_REST_CODE_MAX; code++)
		if ((*code >= 'a' && *code <= 'z') || (*code >= 'A' && *code <= 'Z') ||
		    (*code >= '0' && *code <= '9') || strchr("_.:-", *code))
			code_out[n++] = *code;
	code_out[n] = '\0';
}

int ml_entra_decode_error(const struct ml_http_response *resp, char *out, size_t cap,
			  char *code_out)
{
	ml_json *doc = NULL;
	const char *error;
	int ok = 0;

	if (resp->body.len && resp->body.len <= ERROR_BODY_MAX)
		doc = ml_json_parse(resp->body.data, resp->body.len, NULL);
	error = ml_json_get_str(doc, "error");
	if (error && *error) {
		ml_entra_error_line(out, cap, error, ml_json_get_str(doc, "error_description"));
		put_code(code_out, error);
		ok = 1;
	}
	ml_json_free(doc);
	return ok ? 1 : ml_rest_decode_azure(resp, out, cap, code_out);
}

/* ---- reading the environment ---- */

/* Entra ID's own rule: letters, digits, '-' and '.' (a GUID or a domain name). */
static int valid_tenant(const char *t)
{
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '-' || *t == '.'))
			return 0;
	return 1;
}

/* AZURE_AUTHORITY_HOST: an https URL, or a bare host name (https is implied), as
 * the Azure SDKs take it. */
static int read_authority(struct ml_entra *e, struct ml_error *err)
{
	const char *v = env("AZURE_AUTHORITY_HOST");
	const char *host;
	size_t n;

	if (!v) {
		e->authority = ml_strdup(DEFAULT_AUTHORITY);
		return 0;
	}
	host = !strncmp(v, "https://", 8) ? v + 8 : strstr(v, "://") ? NULL : v;
	n = host ? strlen(host) : 0;
	while (n && host[n - 1] == '/')
		n--;
	if (!host || !n || strcspn(host, " \t\r\n/?#@") < n)
		return ml_error_set(err, ML_EUSAGE, "AZURE_AUTHORITY_HOST '%s' is not an https URL "
				    "of a host (hint: %s, or the authority of your cloud)", v,
				    DEFAULT_AUTHORITY);
	e->authority = ml_asprintf("https://%.*s", (int)n, host);
	ml_log(ML_LOG_INFO, "azure: authority %s (from AZURE_AUTHORITY_HOST)", e->authority);
	return 0;
}

/* The variable that names an app-registration credential, by the SDKs' precedence. */
static enum source client_source(const char **var)
{
	static const struct {
		const char *var;
		enum source src;
	} kinds[] = {
		{ "AZURE_CLIENT_SECRET", SRC_SECRET },
		{ "AZURE_CLIENT_CERTIFICATE_PATH", SRC_CERT },
		{ "AZURE_FEDERATED_TOKEN_FILE", SRC_FEDERATED },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (env(kinds[i].var)) {
			*var = kinds[i].var;
			return kinds[i].src;
		}
	return SRC_NONE;
}

static int read_client(struct ml_entra *e, enum source src, const char *var,
		       struct ml_error *err)
{
	if (!e->tenant || !e->client_id)
		return ml_error_set(err, ML_EAUTH, "%s is set without %s (hint: set both "
				    "AZURE_TENANT_ID and AZURE_CLIENT_ID of the app registration)",
				    var, !e->tenant && !e->client_id ?
				    "AZURE_TENANT_ID and AZURE_CLIENT_ID" :
				    !e->tenant ? "AZURE_TENANT_ID" : "AZURE_CLIENT_ID");
	if (!valid_tenant(e->tenant))
		return ml_error_set(err, ML_EUSAGE, "AZURE_TENANT_ID '%s' is not a tenant id "
				    "(hint: a GUID or a domain such as contoso.onmicrosoft.com)",
				    e->tenant);
	if (src == SRC_CERT && env("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
		return ml_error_set(err, ML_EAUTH, "AZURE_CLIENT_CERTIFICATE_PASSWORD is set: an "
				    "encrypted certificate key is not supported (hint: write the key "
				    "unencrypted with 'openssl pkey' into a file only you can read)");
	e->src = src;
	if (src == SRC_SECRET)
		e->secret = ml_strdup(env(var));
	else if (src == SRC_CERT)
		e->cert_path = ml_strdup(env(var));
	else
		e->token_file = ml_strdup(env(var));
	return read_authority(e, err);
}

static int read_managed(struct ml_entra *e, const struct ml_config *cfg, struct ml_error *err)
{
	const char *endpoint = env("IDENTITY_ENDPOINT");
	int rc;

	if (endpoint) {
		if (!env("IDENTITY_HEADER"))
			return ml_error_set(err, ML_EAUTH, "IDENTITY_ENDPOINT is set but "
					    "IDENTITY_HEADER is not (hint: both come from the "
					    "platform's managed identity)");
		if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
			return ml_error_set(err, ML_EUSAGE, "IDENTITY_ENDPOINT '%s' is not an "
					    "http(s) URL", endpoint);
		e->src = SRC_APP_SERVICE;
		e->identity_endpoint = ml_strdup(endpoint);
		e->identity_header = ml_strdup(env("IDENTITY_HEADER"));
		return 0;
	}
	rc = ml_endpoint(&e->imds, cfg, "IMDS", DEFAULT_IMDS, err);
	if (rc == 0)
		e->imds_explicit = strcmp(e->imds, DEFAULT_IMDS) != 0;
	return rc;
}

int ml_entra_new(struct ml_entra **out, const struct ml_config *cfg, struct ml_error *err)
{
	struct ml_entra *e = ml_calloc(1, sizeof(*e));
	const char *var = NULL;
	enum source src;
	int rc;

	pthread_mutex_init(&e->lock, NULL);
	e->tokens = ml_token_cache_new();
	e->tenant = ml_strdup(env("AZURE_TENANT_ID"));
	e->client_id = ml_strdup(env("AZURE_CLIENT_ID"));
	src = client_source(&var);
	rc = src != SRC_NONE ? read_client(e, src, var, err) : read_managed(e, cfg, err);
	if (rc < 0) {
		ml_entra_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void ml_entra_free(struct ml_entra *e)
{
	if (!e)
		return;
	ml_rest_free(e->login);
	ml_rest_free(e->mi);
	ml_rest_free(e->probe);
	ml_token_cache_free(e->tokens);
	ml_free_secret(e->secret);
	ml_free_secret(e->identity_header);
	free(e->tenant);
	free(e->client_id);
	free(e->cert_path);
	free(e->token_file);
	free(e->authority);
	free(e->identity_endpoint);
	free(e->imds);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int ml_entra_configured(const struct ml_entra *e)
{
	return e->src != SRC_NONE || e->imds_explicit;
}

const char *ml_entra_tenant(const struct ml_entra *e)
{
	return e->src == SRC_SECRET || e->src == SRC_CERT || e->src == SRC_FEDERATED ?
	       e->tenant : NULL;
}

const char *ml_entra_source(const struct ml_entra *e)
{
	return source_names[e->src];
}

/* ---- the client assertion ---- */

/* A random (version 4) UUID, for jti. */
static int uuid4(char out[37], struct ml_error *err)
{
	unsigned char b[16];
	char hex[33];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return ml_error_errno(err, ML_EINTERNAL, errno, "cannot get random bytes");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	ml_hex_encode(hex, b, sizeof(b));
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

int ml_entra_assertion(char **out, const char *client_id, const char *audience,
		       const char *pem, size_t pem_len, int64_t now, struct ml_error *err)
{
	char x5t[ML_X5T_LEN], jti[37];
	ml_json *claims;
	int rc;

	rc = ml_cert_x5t(x5t, pem, pem_len, err);
	if (rc == 0)
		rc = uuid4(jti, err);
	if (rc < 0)
		return rc;
	claims = ml_json_object_new();
	ml_json_set_str(claims, "aud", audience);
	ml_json_set_str(claims, "iss", client_id);
	ml_json_set_str(claims, "sub", client_id);
	ml_json_set_str(claims, "jti", jti);
	ml_json_set_int(claims, "nbf", now);
	ml_json_set_int(claims, "exp", now + ML_ENTRA_ASSERTION_LIFE_S);
	rc = ml_jwt_sign_rs256(out, claims, pem, pem_len, NULL, x5t, err);
	ml_json_free(claims);
	return rc;
}

/* ---- token requests ---- */

/* Adds managed identity's proof of origin: App Service's secret header, or the
 * header IMDS wants to see (a request forwarded by a proxy has none). */
static int managed_sign(void *ud, const struct ml_rest_sign *req, char ***headers,
			size_t *nheaders, struct ml_error *err)
{
	struct ml_entra *e = ud;

	(void)req;
	(void)err;
	*headers = ml_malloc(sizeof(**headers));
	(*headers)[0] = e->src == SRC_APP_SERVICE ?
			ml_asprintf("X-IDENTITY-HEADER: %s", e->identity_header) :
			ml_strdup("Metadata: true");
	*nheaders = 1;
	return 0;
}

static int rest_client(struct ml_rest **r, const char *service, const char *base,
		       struct ml_entra *e, int probe, struct ml_error *err)
{
	struct ml_rest_opts o = { 0 };

	if (*r)
		return 0;
	o.service = service;
	o.base_url = base;
	o.decode = ml_entra_decode_error;
	if (probe) {
		o.timeout_s = PROBE_TIMEOUT_S;
		o.max_retries = PROBE_RETRIES;
	} else if (r == &e->mi) {
		o.sign = managed_sign;
		o.ud = e;
	}
	return ml_rest_new(r, &o, err);
}

static void form_add(struct ml_buf *f, const char *name, const char *value)
{
	ml_buf_printf(f, "%s%s=", f->len ? "&" : "", name);
	ml_http_urlencode(f, value);
}

/* A file that holds a credential, read again for every request (a federated token
 * is rotated by the platform); wiped by the caller. */
static int read_secret_file(struct ml_buf *out, const char *var, const char *path,
			    struct ml_error *err)
{
	int rc;

	ml_buf_init(out, FILE_MAX);
	rc = ml_read_file(path, FILE_MAX, out, err);
	if (rc < 0) {
		ml_error_prefix(err, "%s", var);
		return rc;
	}
	while (out->len && strchr(" \t\r\n", out->data[out->len - 1]))
		out->data[--out->len] = '\0';
	if (!out->len)
		return ml_error_set(err, ML_EAUTH, "%s '%s' is empty", var, path);
	return 0;
}

static void wipe_buf(struct ml_buf *b)
{
	ml_wipe(b->data, b->len);
	ml_buf_dispose(b);
}

/* The form's proof of the client: its secret, an assertion signed with its
 * certificate's key, or the platform's federated token. */
static int add_client_proof(struct ml_entra *e, const char *token_url, struct ml_buf *form,
			    struct ml_error *err)
{
	struct ml_buf file = ML_BUF_INIT;
	char *assertion = NULL;
	int rc = 0;

	if (e->src == SRC_SECRET) {
		form_add(form, "client_secret", e->secret);
		return 0;
	}
	if (e->src == SRC_CERT) {
		rc = read_secret_file(&file, "AZURE_CLIENT_CERTIFICATE_PATH", e->cert_path, err);
		if (rc == 0 && (rc = ml_entra_assertion(&assertion, e->client_id, token_url,
							file.data, file.len, (int64_t)time(NULL),
							err)) < 0)
			ml_error_prefix(err, "AZURE_CLIENT_CERTIFICATE_PATH '%s'", e->cert_path);
	} else {
		rc = read_secret_file(&file, "AZURE_FEDERATED_TOKEN_FILE", e->token_file, err);
		if (rc == 0)
			assertion = ml_strdup(file.data);
	}
	if (rc == 0) {
		form_add(form, "client_assertion_type", ASSERTION_TYPE);
		form_add(form, "client_assertion", assertion);
	}
	ml_free_secret(assertion);
	wipe_buf(&file);
	return rc;
}

/* Takes access_token and its lifetime (expires_in, else expires_on) from an answer;
 * managed identity gives both as strings of digits. */
static int take_token(const ml_json *body, const char *what, char **token, int64_t *life,
		      struct ml_error *err)
{
	const char *t = ml_json_get_str(body, "access_token");
	const char *keys[] = { "expires_in", "expires_on" };
	size_t i;

	*life = 0;
	if (!t || !*t)
		return ml_error_set(err, ML_EPROTO, "%s answered without an access token", what);
	for (i = 0; i < 2 && *life <= 0; i++) {
		const char *s = ml_json_get_str(body, keys[i]);
		int64_t v = 0;
		char *end;

		if (s) {
			v = strtoll(s, &end, 10);
			if (end == s || *end)
				v = 0;
		} else if (ml_json_get_int(body, keys[i], &v) < 0) {
			v = 0;
		}
		*life = i == 0 ? v : v - (int64_t)time(NULL);
	}
	*token = ml_strdup(t);
	return 0;
}

/* A token endpoint's 4xx (400 included: an unknown client, tenant or federated
 * identity) refuses the credential. */
static int refused(const struct ml_rest_result *res, int rc, struct ml_error *err)
{
	if (res->status < 400 || res->status >= 500)
		return rc;
	if (err)
		err->code = ML_EAUTH;
	return -ML_EAUTH;
}

static int token_client(struct ml_entra *e, const char *scope, char **token, int64_t *life,
			struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf form = ML_BUF_INIT;
	char *path = ml_asprintf("/%s/oauth2/v2.0/token", e->tenant);
	char *url = ml_asprintf("%s%s", e->authority, path);
	int rc;

	rc = rest_client(&e->login, "Entra ID", e->authority, e, 0, err);
	if (rc < 0)
		goto out;
	form_add(&form, "grant_type", "client_credentials");
	form_add(&form, "client_id", e->client_id);
	form_add(&form, "scope", scope);
	rc = add_client_proof(e, url, &form, err);
	if (rc < 0)
		goto out;
	/* asking for a token twice does no harm: retried like an idempotent call */
	rc = ml_rest_call_raw(e->login, "POST", path, "application/x-www-form-urlencoded",
			      form.data, form.len, ML_REST_IDEMPOTENT, &res, err);
	if (rc == 0)
		rc = take_token(res.body, "Entra ID", token, life, err);
	else
		rc = refused(&res, rc, err);
out:
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	wipe_buf(&form);
	free(path);
	free(url);
	return rc;
}

/* Managed identity asks for a resource, not a scope: the scope without "/.default". */
static char *scope_resource(const char *scope)
{
	size_t n = strlen(scope), d = strlen("/.default");

	if (n > d && !strcmp(scope + n - d, "/.default"))
		n -= d;
	return ml_strndup(scope, n);
}

static char *managed_url(const struct ml_entra *e, const char *scope)
{
	struct ml_buf u = ML_BUF_INIT;
	char *resource = scope_resource(scope);

	if (e->src == SRC_APP_SERVICE)
		ml_buf_printf(&u, "%s%capi-version=%s", e->identity_endpoint,
			      strchr(e->identity_endpoint, '?') ? '&' : '?', APP_SERVICE_API);
	else
		ml_buf_printf(&u, "%s%s?api-version=%s", e->imds, IMDS_PATH, IMDS_API);
	ml_buf_adds(&u, "&resource=");
	ml_http_urlencode(&u, resource);
	if (e->client_id) {
		ml_buf_adds(&u, "&client_id=");
		ml_http_urlencode(&u, e->client_id);
	}
	free(resource);
	return ml_buf_detach(&u);
}

/* IMDS is there when it answers a request without the Metadata header as IMDS
 * does, at once: 400 with an OAuth error. Anything else at that address (a proxy's
 * 403, a captive portal) is not IMDS. */
static int imds_probe(struct ml_entra *e)
{
	struct ml_rest_result res = { 0 };
	struct ml_error err = { 0, "" };
	char *url, line[ML_ERROR_MAX / 2];

	if (e->imds_state)
		return e->imds_state > 0;
	if (rest_client(&e->probe, "IMDS", e->imds, e, 1, &err) < 0) {
		e->imds_state = -1;
		return 0;
	}
	url = managed_url(e, ML_AZURE_ARM_SCOPE);
	ml_rest_call(e->probe, "GET", url, NULL, ML_REST_RAW, &res, &err);
	e->imds_state = res.status == 400 && ml_entra_decode_error(&res.resp, line, sizeof(line),
								 NULL) ? 1 : -1;
	ml_log(ML_LOG_INFO, e->imds_state > 0 ? "azure: the instance metadata service answered "
	       "at %s" : "azure: no instance metadata service at %s", e->imds);
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	free(url);
	if (e->imds_state > 0)
		e->src = SRC_IMDS;
	return e->imds_state > 0;
}

/* IMDS answers 400 when no identity (or not the one asked for) is assigned. */
static int no_identity_hint(const struct ml_entra *e, struct ml_error *err)
{
	char msg[ML_ERROR_MAX];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	return ml_error_set(err, ML_EAUTH, "%s (hint: assign a managed identity to this "
			    "machine%s)", msg,
			    e->client_id ? " with the client id in AZURE_CLIENT_ID" : "");
}

static int token_managed(struct ml_entra *e, const char *scope, char **token, int64_t *life,
			 struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	const char *base = e->src == SRC_APP_SERVICE ? e->identity_endpoint : e->imds;
	const char *what = e->src == SRC_APP_SERVICE ? "managed identity endpoint" : "IMDS";
	char *url = managed_url(e, scope);
	int rc;

	rc = rest_client(&e->mi, what, base, e, 0, err);
	if (rc == 0)
		rc = ml_rest_call(e->mi, "GET", url, NULL, 0, &res, err);
	if (rc == 0)
		rc = take_token(res.body, what, token, life, err);
	else if (res.status == 400 && e->src == SRC_IMDS && err)
		rc = no_identity_hint(e, err);
	else
		rc = refused(&res, rc, err);
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	free(url);
	return rc;
}

static int none_found(const struct ml_entra *e, struct ml_error *err)
{
	return ml_error_set(err, ML_EAUTH, "no azure credentials: AZURE_CLIENT_SECRET, "
			    "AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE and "
			    "IDENTITY_ENDPOINT are not set, and no managed identity answered at "
			    "%s (IMDS); the token cache of a logged-in az is not read (hint: %s)",
			    e->imds, TRIED_HINT);
}

int ml_entra_available(struct ml_entra *e)
{
	int ok;

	pthread_mutex_lock(&e->lock);
	ok = e->src != SRC_NONE || imds_probe(e);
	pthread_mutex_unlock(&e->lock);
	return ok;
}

int ml_entra_token(struct ml_entra *e, const char *scope, char **token, struct ml_error *err)
{
	char *t;
	int64_t life = 0;
	int rc = 0;

	pthread_mutex_lock(&e->lock);
	t = ml_token_cache_get(e->tokens, scope);
	if (t)
		goto out;
	if (e->src == SRC_NONE && !imds_probe(e)) {
		rc = none_found(e, err);
		goto out;
	}
	if (e->src == SRC_APP_SERVICE || e->src == SRC_IMDS)
		ml_log(ML_LOG_INFO, "azure: access token for %s from %s%s%s", scope,
		       source_names[e->src], e->client_id ? ", client id " : "",
		       e->client_id ? e->client_id : "");
	else
		ml_log(ML_LOG_INFO, "azure: access token for %s from %s, client id %s, tenant %s",
		       scope, source_names[e->src], e->client_id, e->tenant);
	rc = e->src == SRC_APP_SERVICE || e->src == SRC_IMDS ?
	     token_managed(e, scope, &t, &life, err) : token_client(e, scope, &t, &life, err);
	if (rc < 0) {
		ml_error_prefix(err, "azure credentials from %s", source_names[e->src]);
		goto out;
	}
	ml_token_cache_put(e->tokens, scope, t, life);
out:
	pthread_mutex_unlock(&e->lock);
	if (rc == 0)
		*token = t;
	return rc;
}

void ml_entra_invalidate(struct ml_entra *e, const char *scope)
{
	ml_token_cache_drop(e->tokens, scope);
}
