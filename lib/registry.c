#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "redact.h"

#define MANIFEST_ACCEPT "Accept: " ML_MT_OCI_INDEX ", " ML_MT_OCI_MANIFEST ", " \
	ML_MT_DOCKER_LIST ", " ML_MT_DOCKER_MANIFEST

struct token {
	char *scope;
	char *auth;	/* "Bearer ..." */
};

struct ml_registry {
	char *host;
	char *base;
	int insecure;
	int probed;
	struct ml_http *http;
	struct token *tokens;
	size_t ntokens, atokens;
	char *basic;
	struct ml_credential cred;
	int cred_state;		/* 0 not looked up, 1 found, -1 none */
};

struct reg_req {
	const char *method;
	char *path;		/* owned by the caller */
	const char *accept;
	const struct ml_http_sink *sink;
	const char *scope;
	size_t max_body;
	unsigned flags;
};

static const struct ml_registry_hooks *hooks;

void ml_registry_set_hooks(const struct ml_registry_hooks *h)
{
	hooks = h;
}

/* Finds host in a comma-separated list of "host" or "host=value" items; returns
 * the value (or "" for a bare item) as a new string, or NULL. */
static char *env_list_lookup(const char *var, const char *host)
{
	const char *list = getenv(var), *p;
	size_t hl = strlen(host);

	for (p = list; p && *p; ) {
		const char *end = strchr(p, ','), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && *p == ' ')
			p++, n--;
		eq = memchr(p, '=', n);
		if ((eq ? (size_t)(eq - p) : n) == hl && !strncmp(p, host, hl))
			return eq ? ml_strndup(eq + 1, n - (size_t)(eq + 1 - p)) : ml_strdup("");
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static int url_host_insecure(const char *url)
{
	const char *h = strstr(url, "://");
	char *host, *v;
	int ok;

	h = h ? h + 3 : url;
	host = ml_strndup(h, strcspn(h, "/"));
	v = env_list_lookup("MLDEPLOY_INSECURE_REGISTRIES", host);
	ok = v != NULL;
	free(v);
	free(host);
	return ok;
}

static int set_base(struct ml_registry *r, int for_pull, struct ml_error *err)
{
	char *mirror = for_pull ? env_list_lookup("MLDEPLOY_REGISTRY_MIRRORS", r->host) : NULL;
	const char *ep = hooks && hooks->endpoint ? hooks->endpoint(r->host) : NULL;
	size_t n;

	if (mirror && mirror[0]) {
		if (strncmp(mirror, "https://", 8) && strncmp(mirror, "http://", 7)) {
			free(mirror);
			return ml_error_set(err, ML_EUSAGE, "MLDEPLOY_REGISTRY_MIRRORS: mirror for '%s' "
					    "must be an http:// or https:// URL", r->host);
		}
		r->insecure = url_host_insecure(mirror);
		if (!strncmp(mirror, "http://", 7) && !r->insecure) {
			ml_error_set(err, ML_EUSAGE, "mirror '%s' for '%s' uses plain HTTP (hint: list "
				     "its host:port in MLDEPLOY_INSECURE_REGISTRIES to allow that)",
				     mirror, r->host);
			free(mirror);
			return -ML_EUSAGE;
		}
		n = strlen(mirror);
		while (n && mirror[n - 1] == '/')
			mirror[--n] = '\0';
		r->base = mirror;
		r->probed = 1;
		ml_log(ML_LOG_INFO, "registry %s: using mirror %s", r->host, r->base);
		return 0;
	}
	free(mirror);
	if (!ep)
		ep = r->host;
	r->insecure = url_host_insecure(ep) || url_host_insecure(r->host);
	r->base = ml_asprintf("https://%s", ep);
	r->probed = !r->insecure;
	return 0;
}

int ml_registry_open(struct ml_registry **out, const char *host, int for_pull,
		     struct ml_error *err)
{
	struct ml_registry *r = ml_calloc(1, sizeof(*r));
	int rc;

	r->host = ml_strdup(host);
	rc = set_base(r, for_pull, err);
	if (rc == 0)
		rc = ml_http_new(&r->http, err);
	if (rc < 0) {
		ml_registry_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void ml_registry_free(struct ml_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->ntokens; i++) {
		explicit_bzero(r->tokens[i].auth, strlen(r->tokens[i].auth));
		free(r->tokens[i].auth);
		free(r->tokens[i].scope);
	}
	free(r->tokens);
	if (r->basic)
		explicit_bzero(r->basic, strlen(r->basic));
	free(r->basic);
	ml_credential_dispose(&r->cred);
	ml_http_free(r->http);
	free(r->host);
	free(r->base);
	free(r);
}

const char *ml_registry_base_url(const struct ml_registry *r)
{
	return r->base;
}

/* For an insecure registry, the first contact decides between unverified HTTPS
 * and plain HTTP, as Docker does. */
static void probe_scheme(struct ml_registry *r)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	char *url;
	int rc;

	r->probed = 1;
	url = ml_asprintf("%s/v2/", r->base);
	req.url = url;
	req.flags = ML_HTTP_INSECURE;
	req.timeout_s = 10;
	ml_http_response_init(&resp);
	rc = ml_http_do(r->http, &req, &resp, NULL);
	ml_http_response_dispose(&resp);
	free(url);
	if (rc < 0 && !strncmp(r->base, "https://", 8)) {
		char *plain = ml_asprintf("http://%s", r->base + 8);

		ml_log(ML_LOG_INFO, "registry %s: no TLS, using plain HTTP (listed as insecure)",
		       r->host);
		free(r->base);
		r->base = plain;
	}
}

static const char *auth_for(const struct ml_registry *r, const char *scope)
{
	size_t i;

	for (i = 0; i < r->ntokens; i++)
		if (!strcmp(r->tokens[i].scope, scope ? scope : ""))
			return r->tokens[i].auth;
	return r->basic;
}

static int load_credential(struct ml_registry *r, struct ml_error *err)
{
	ml_credential_fn fn = hooks && hooks->credential ? hooks->credential : ml_auth_credential;
	int rc;

	if (r->cred_state)
		return r->cred_state > 0;
	rc = fn(r->host, &r->cred, err);
	if (rc < 0)
		return rc;
	r->cred_state = rc > 0 ? 1 : -1;
	if (rc > 0)
		ml_log(ML_LOG_INFO, "registry %s: credentials from %s", r->host,
		       r->cred.source ? r->cred.source : "a credential hook");
	else
		ml_log(ML_LOG_INFO, "registry %s: no credentials, trying anonymous access", r->host);
	return rc > 0;
}

static char *basic_header(const struct ml_credential *c)
{
	struct ml_buf plain = ML_BUF_INIT, out = ML_BUF_INIT;

	ml_buf_printf(&plain, "%s:%s", c->username, c->secret);
	ml_buf_adds(&out, "Basic ");
	ml_base64_encode(&out, plain.data, plain.len);
	explicit_bzero(plain.data, plain.len);
	ml_buf_dispose(&plain);
	return ml_buf_detach(&out);
}

static int auth_error(struct ml_registry *r, const char *what, struct ml_error *err)
{
	if (r->cred_state > 0)
		return ml_error_set(err, ML_EAUTH, "%s: registry '%s' refused the credentials from %s "
				    "(hint: check the user name and password or token)",
				    what, r->host, r->cred.source ? r->cred.source : "the credential hook");
	return ml_error_set(err, ML_EAUTH, "%s: registry '%s' requires credentials (hint: set "
			    "MLDEPLOY_REGISTRY_USERNAME and MLDEPLOY_REGISTRY_PASSWORD)", what, r->host);
}

static void add_token(struct ml_registry *r, const char *scope, const char *token)
{
	r->tokens = ml_grow(r->tokens, &r->atokens, r->ntokens + 1, sizeof(*r->tokens));
	r->tokens[r->ntokens].scope = ml_strdup(scope ? scope : "");
	r->tokens[r->ntokens].auth = ml_asprintf("Bearer %s", token);
	r->ntokens++;
}

static int fetch_token(struct ml_registry *r, const struct ml_challenge *ch, const char *scope,
		       struct ml_error *err)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_buf url = ML_BUF_INIT, shown = ML_BUF_INIT;
	char *basic = NULL;
	ml_json *doc = NULL;
	const char *token;
	int rc, have;

	if (!ch->realm || (strncmp(ch->realm, "https://", 8) &&
			   !(strncmp(ch->realm, "http://", 7) == 0 && r->insecure)))
		return ml_error_set(err, ML_EPROTO, "registry '%s' sent a bearer challenge without "
				    "a usable https realm", r->host);
	have = load_credential(r, err);
	if (have < 0)
		return have;
	ml_buf_printf(&url, "%s%c", ch->realm, strchr(ch->realm, '?') ? '&' : '?');
	if (ch->service) {
		ml_buf_adds(&url, "service=");
		ml_http_urlencode(&url, ch->service);
		ml_buf_addch(&url, '&');
	}
	ml_buf_adds(&url, "scope=");
	ml_http_urlencode(&url, scope ? scope : ch->scope ? ch->scope : "");
	if (have)
		basic = basic_header(&r->cred);
	req.url = url.data;
	req.auth = basic;
	req.flags = ML_HTTP_RETRY | ML_HTTP_FOLLOW | (r->insecure ? ML_HTTP_INSECURE : 0);
	req.max_body = 1 << 20;
	ml_http_response_init(&resp);
	rc = ml_http_do(r->http, &req, &resp, err);
	ml_redact_url(&shown, ch->realm);
	if (rc < 0)
		goto out;
	if (resp.status == 401 || resp.status == 403) {
		rc = auth_error(r, "token request", err);
		goto out;
	}
	if (resp.status != 200) {
		rc = ml_error_set(err, ML_EPROTO, "token service %s answered HTTP %ld", shown.data,
				  resp.status);
		goto out;
	}
	doc = ml_json_parse(ml_buf_str(&resp.body), resp.body.len, NULL);
	token = ml_json_get_str(doc, "token");
	if (!token)
		token = ml_json_get_str(doc, "access_token");
	if (!token || !token[0]) {
		rc = ml_error_set(err, ML_EPROTO, "token service %s answered without a token",
				  shown.data);
		goto out;
	}
	add_token(r, scope ? scope : ch->scope, token);
out:
	if (basic)
		explicit_bzero(basic, strlen(basic));
	free(basic);
	ml_json_free(doc);
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&url);
	ml_buf_dispose(&shown);
	return rc;
}

static int authenticate(struct ml_registry *r, const char *header, const char *scope,
			struct ml_error *err)
{
	struct ml_challenge ch;
	int rc;

	rc = ml_challenge_parse(&ch, header, err);
	if (rc < 0)
		return rc;
	if (!strcmp(ch.scheme, "bearer")) {
		rc = fetch_token(r, &ch, scope, err);
	} else if (!strcmp(ch.scheme, "basic")) {
		rc = load_credential(r, err);
		if (rc == 0)
			rc = auth_error(r, "access", err);
		else if (rc > 0) {
			free(r->basic);
			r->basic = basic_header(&r->cred);
			rc = 0;
		}
	} else {
		rc = ml_error_set(err, ML_EPROTO, "registry '%s' asks for unsupported authentication "
				  "'%s'", r->host, ch.scheme);
	}
	ml_challenge_dispose(&ch);
	return rc;
}

static int reg_do(struct ml_registry *r, const struct reg_req *q,
		  struct ml_http_response *resp, struct ml_error *err)
{
	struct ml_http_request req = { 0 };
	const char *headers[1];
	char *url = NULL;
	int attempt, rc = 0;

	if (!r->probed)
		probe_scheme(r);
	for (attempt = 0; attempt < 2; attempt++) {
		const char *challenge;

		free(url);
		url = ml_asprintf("%s%s", r->base, q->path);
		memset(&req, 0, sizeof(req));
		req.method = q->method;
		req.url = url;
		req.auth = auth_for(r, q->scope);
		if (q->accept) {
			headers[0] = q->accept;
			req.headers = headers;
			req.nheaders = 1;
		}
		req.sink = q->sink;
		req.max_body = q->max_body;
		req.flags = q->flags | ML_HTTP_RETRY | ML_HTTP_FOLLOW |
			    (r->insecure ? ML_HTTP_INSECURE : 0);
		ml_http_response_dispose(resp);
		ml_http_response_init(resp);
		rc = ml_http_do(r->http, &req, resp, err);
		if (rc < 0 || resp->status != 401 || attempt == 1)
			break;
		challenge = ml_http_response_header(resp, "WWW-Authenticate");
		if (!challenge)
			break;
		rc = authenticate(r, challenge, q->scope, err);
		if (rc < 0)
			break;
	}
	free(url);
	if (rc == 0 && resp->status == 401)
		rc = auth_error(r, q->path, err);
	return rc;
}

/* A registry error as "what: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)". */
static int status_error(struct ml_registry *r, int code, const char *what,
			const struct ml_http_response *resp, struct ml_error *err)
{
	ml_json *doc = ml_json_parse(ml_buf_str(&resp->body), resp->body.len, NULL);
	ml_json *e0 = ml_json_at(ml_json_get(doc, "errors"), 0);
	struct ml_buf detail = ML_BUF_INIT;
	int rc;

	if (e0)
		ml_buf_printf(&detail, " (%s: %s)", ml_json_get_str(e0, "code") ?
			      ml_json_get_str(e0, "code") : "?", ml_json_get_str(e0, "message") ?
			      ml_json_get_str(e0, "message") : "");
	else if (resp->body.len)
		ml_buf_adds(&detail, " (");
	if (!e0 && resp->body.len) {
		ml_redact_text(&detail, resp->body.data, resp->body.len, 200);
		ml_buf_adds(&detail, ")");
	}
	ml_sanitize(detail.data ? detail.data : (char[]){ 0 });
	rc = ml_error_set(err, code, "%s on '%s': HTTP %ld%s", what, r->host, resp->status,
			  ml_buf_str(&detail));
	ml_buf_dispose(&detail);
	ml_json_free(doc);
	return rc;
}

static char *pull_scope(const char *repo)
{
	return ml_asprintf("repository:%s:pull", repo);
}

static char *media_type_of(const struct ml_http_response *resp, const struct ml_buf *body)
{
	const char *ct = ml_http_response_header(resp, "Content-Type");
	ml_json *doc;
	char *mt = NULL;

	if (ct && strcmp(ct, "application/json") && strncmp(ct, "text/", 5))
		return ml_strndup(ct, strcspn(ct, "; "));
	doc = ml_json_parse(ml_buf_str(body), body->len, NULL);
	if (ml_json_get_str(doc, "mediaType"))
		mt = ml_strdup(ml_json_get_str(doc, "mediaType"));
	ml_json_free(doc);
	return mt ? mt : ml_strdup(ML_MT_OCI_MANIFEST);
}

int ml_registry_get_manifest(struct ml_registry *r, const char *repo, const char *ref,
			     struct ml_buf *body, char **media_type, char digest[ML_DIGEST_LEN],
			     struct ml_error *err)
{
	struct ml_http_response resp;
	struct reg_req q = { 0 };
	const char *header;
	char *scope = pull_scope(repo);
	char *what = ml_asprintf("manifest %s/%s%s%s", r->host, repo, ml_digest_valid(ref) ? "@" : ":", ref);
	int rc;

	q.method = "GET";
	q.path = ml_asprintf("/v2/%s/manifests/%s", repo, ref);
	q.accept = MANIFEST_ACCEPT;
	q.scope = scope;
	q.max_body = ML_MANIFEST_MAX;
	ml_http_response_init(&resp);
	rc = reg_do(r, &q, &resp, err);
	if (rc < 0)
		goto out;
	if (resp.status == 404) {
		rc = status_error(r, ML_ENOTFOUND, what, &resp, err);
		goto out;
	}
	if (resp.status != 200) {
		rc = status_error(r, ML_EPROTO, what, &resp, err);
		goto out;
	}
	ml_sha256_digest(ml_buf_str(&resp.body), resp.body.len, digest);
	header = ml_http_response_header(&resp, "Docker-Content-Digest");
	if (ml_digest_valid(ref) && strcmp(ref, digest)) {
		rc = ml_error_set(err, ML_EDIGEST, "%s: the registry sent content with digest %s",
				  what, digest);
		goto out;
	}
	if (header && ml_digest_valid(header) && strcmp(header, digest)) {
		rc = ml_error_set(err, ML_EDIGEST, "%s: content hashes to %s but the registry "
				  "says %s", what, digest, header);
		goto out;
	}
	*media_type = media_type_of(&resp, &resp.body);
	ml_buf_reset(body);
	rc = ml_buf_add(body, ml_buf_str(&resp.body), resp.body.len);
out:
	ml_http_response_dispose(&resp);
	free(q.path);
	free(scope);
	free(what);
	return rc;
}

struct blob_sink {
	int fd;
	int64_t want;
	int64_t got;
	struct ml_sha256 *hash;
	const char *digest;
	struct ml_error *err;
	uint64_t reported;
};

static int blob_write(void *ud, const void *data, size_t len)
{
	struct blob_sink *s = ud;
	int rc;

	if (s->got + (int64_t)len > s->want)
		return ml_error_set(s->err, ML_EDIGEST, "blob %s is larger than the %lld bytes "
				    "its manifest says", s->digest, (long long)s->want);
	rc = ml_write_all(s->fd, data, len, s->err);
	if (rc < 0)
		return rc;
	ml_sha256_update(s->hash, data, len);
	s->got += (int64_t)len;
	if ((uint64_t)s->got - s->reported >= (1u << 20)) {
		ml_progress_update(s->digest, (uint64_t)s->got);
		s->reported = (uint64_t)s->got;
	}
	return 0;
}

static int blob_reset(void *ud)
{
	struct blob_sink *s = ud;

	if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		return -ML_EIO;
	ml_sha256_reset(s->hash);
	s->got = 0;
	return 0;
}

int ml_registry_fetch_blob(struct ml_registry *r, const char *repo, const char *digest,
			   int64_t size, int fd, struct ml_error *err)
{
	struct blob_sink s = { .fd = fd, .want = size, .digest = digest, .err = err };
	struct ml_http_sink sink = { blob_write, blob_reset, &s };
	struct ml_http_response resp;
	struct reg_req q = { 0 };
	char *scope = pull_scope(repo);
	char *what = ml_asprintf("blob %s in %s", digest, repo);
	char got[ML_DIGEST_LEN];
	int rc;

	s.hash = ml_sha256_new();
	q.method = "GET";
	q.path = ml_asprintf("/v2/%s/blobs/%s", repo, digest);
	q.scope = scope;
	q.sink = &sink;
	q.max_body = 1 << 16;
	ml_http_response_init(&resp);
	rc = reg_do(r, &q, &resp, err);
	if (rc < 0)
		goto out;
	if (resp.status != 200) {
		rc = status_error(r, resp.status == 404 ? ML_ENOTFOUND : ML_EPROTO, what, &resp, err);
		goto out;
	}
	ml_sha256_final(s.hash, got);
	if (s.got != size)
		rc = ml_error_set(err, ML_EDIGEST, "%s: got %lld bytes, the manifest says %lld",
				  what, (long long)s.got, (long long)size);
	else if (strcmp(got, digest))
		rc = ml_error_set(err, ML_EDIGEST, "%s: content hashes to %s", what, got);
out:
	ml_http_response_dispose(&resp);
	ml_sha256_free(s.hash);
	free(q.path);
	free(scope);
	free(what);
	return rc;
}
