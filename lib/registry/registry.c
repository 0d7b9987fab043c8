#include "registry/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy/token.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "wrap/http.h"
#include "wrap/json.h"
#include "util/log.h"
#include "util/redact.h"
#include "registry/registry-internal.h"

#define TOKEN_DEFAULT_LIFE_S 60
#define DETAIL_MAX 200	/* bytes of a registry's error text in a message */
#define MANIFEST_ACCEPT "Accept: " ML_MT_OCI_INDEX ", " ML_MT_OCI_MANIFEST ", " \
	ML_MT_DOCKER_LIST ", " ML_MT_DOCKER_MANIFEST

/* The credential lookup runs once per registry, outside the lock (a helper may
 * take seconds): the first thread to need it looks up, others wait for it. */
enum cred_state {
	CRED_UNKNOWN,		/* not looked up yet */
	CRED_BUSY,		/* a thread is looking up */
	CRED_FOUND,
	CRED_NONE,		/* anonymous access */
	CRED_FAILED,		/* remembered for the run: a helper is not run per blob */
};

struct ml_registry {
	char *host;
	char *base;
	int insecure;
	int probed;
	pthread_mutex_t lock;	/* guards everything below and probed/base */
	struct ml_http **pool;	/* idle HTTP clients, one per concurrent request */
	size_t npool, apool;
	struct ml_token_cache *tokens;	/* scope -> "Bearer ...", until it expires */
	char *basic;
	struct ml_credential cred;	/* set once, read-only after: see load_credential */
	enum cred_state cred_state;
	struct ml_error cred_err;	/* why the lookup failed (CRED_FAILED) */
	pthread_cond_t cred_done;	/* signalled when a CRED_BUSY lookup ends */
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

/* The mirror of host in MLDEPLOY_REGISTRY_MIRRORS ("registry=URL,..."), malloc'ed
 * into *url, or NULL. Every item is checked, so that a typo is a usage error rather
 * than a mirror silently not used; items are shown without their logins. */
static int mirror_for(const char *host, char **url, struct ml_error *err)
{
	const char *p = getenv("MLDEPLOY_REGISTRY_MIRRORS"), *end, *eq;
	struct ml_buf shown = ML_BUF_INIT;
	char *item, *clean, *user, *pw;
	size_t n;
	int rc = 0, ok;

	*url = NULL;
	for (; p && *p && rc == 0; p = end ? end + 1 : NULL) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		while (n && *p == ' ')
			p++, n--;
		while (n && p[n - 1] == ' ')
			n--;
		item = ml_strndup(p, n);
		eq = strchr(item, '=');
		ok = eq && eq > item && strcspn(item, " /@") >= (size_t)(eq - item) &&
		     (!strncmp(eq + 1, "https://", 8) || !strncmp(eq + 1, "http://", 7)) &&
		     ml_http_url_take_userinfo(eq + 1, &clean, &user, &pw) == 0;
		if (ok) {
			free(clean);
			free(user);
			ml_free_secret(pw);
		}
		if (!ok) {
			ml_redact_text(&shown, item, strlen(item), 200);
			rc = ml_error_set(err, ML_EUSAGE, "MLDEPLOY_REGISTRY_MIRRORS: '%s' is not "
					  "REGISTRY=URL (expected a comma-separated list such as "
					  "'docker.io=https://mirror.example')", ml_buf_str(&shown));
		} else if ((size_t)(eq - item) == strlen(host) && !strncmp(item, host, strlen(host))) {
			if (*url)
				rc = ml_error_set(err, ML_EUSAGE, "MLDEPLOY_REGISTRY_MIRRORS names "
						  "'%s' twice", host);
			else
				*url = ml_strdup(eq + 1);
		}
		ml_free_secret(item);
	}
	if (rc < 0) {
		ml_free_secret(*url);
		*url = NULL;
	}
	ml_buf_dispose(&shown);
	return rc;
}

/* A login in the mirror's URL (https://user:password@mirror) is the mirror's
 * credential, sent to the mirror's origin only, instead of a lookup by host. */
static void set_mirror_login(struct ml_registry *r, char *user, char *password)
{
	r->cred.username = user;
	r->cred.secret = password;
	r->cred.source = ml_strdup("the login in MLDEPLOY_REGISTRY_MIRRORS");
	r->cred_state = CRED_FOUND;
}

static int set_base(struct ml_registry *r, int for_pull, struct ml_error *err)
{
	const char *ep = hooks && hooks->endpoint ? hooks->endpoint(r->host) : NULL;
	char *mirror = NULL, *clean = NULL, *user = NULL, *pw = NULL;
	size_t n;
	int rc;

	if (for_pull && (rc = mirror_for(r->host, &mirror, err)) < 0)
		return rc;
	if (mirror) {
		/* checked by mirror_for: a URL */
		ml_http_url_take_userinfo(mirror, &clean, &user, &pw);
		ml_free_secret(mirror);
		n = strlen(clean);
		while (n && clean[n - 1] == '/')
			clean[--n] = '\0';
		r->insecure = url_host_insecure(clean);
		if (!strncmp(clean, "http://", 7) && !r->insecure) {
			ml_error_set(err, ML_EUSAGE, "mirror '%s' for '%s' uses plain HTTP (hint: list "
				     "its host:port in MLDEPLOY_INSECURE_REGISTRIES to allow that)",
				     clean, r->host);
			free(clean);
			free(user);
			ml_free_secret(pw);
			return -ML_EUSAGE;
		}
		if (user)
			set_mirror_login(r, user, pw);
		r->base = clean;
		r->probed = 1;
		ml_log(ML_LOG_INFO, "registry %s: using mirror %s%s", r->host, r->base,
		       user ? " (with the login its URL gives)" : "");
		return 0;
	}
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
	r->tokens = ml_token_cache_new();
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cred_done, NULL);
	rc = set_base(r, for_pull, err);
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
	ml_token_cache_free(r->tokens);
	if (r->basic)
		explicit_bzero(r->basic, strlen(r->basic));
	free(r->basic);
	ml_credential_dispose(&r->cred);
	for (i = 0; i < r->npool; i++)
		ml_http_free(r->pool[i]);
	free(r->pool);
	pthread_cond_destroy(&r->cred_done);
	pthread_mutex_destroy(&r->lock);
	free(r->host);
	free(r->base);
	free(r);
}

const char *ml_registry_base_url(const struct ml_registry *r)
{
	return r->base;
}

/* An idle client of the pool, or a new one (whose environment may be malformed:
 * a usage error). */
static int http_acquire(struct ml_registry *r, struct ml_http **out, struct ml_error *err)
{
	struct ml_http *h = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->npool)
		h = r->pool[--r->npool];
	pthread_mutex_unlock(&r->lock);
	*out = h;
	return h ? 0 : ml_http_new(out, err);
}

static void http_release(struct ml_registry *r, struct ml_http *h)
{
	pthread_mutex_lock(&r->lock);
	r->pool = ml_grow(r->pool, &r->apool, r->npool + 1, sizeof(*r->pool));
	r->pool[r->npool++] = h;
	pthread_mutex_unlock(&r->lock);
}

int ml_reg_http(struct ml_registry *r, const struct ml_http_request *req,
		struct ml_http_response *resp, struct ml_error *err)
{
	struct ml_http *h;
	int rc = http_acquire(r, &h, err);

	if (rc < 0)
		return rc;
	rc = ml_http_do(h, req, resp, err);
	http_release(r, h);
	return rc;
}

/* For an insecure registry, the first contact decides between unverified HTTPS
 * and plain HTTP, as Docker does. Called with the lock held. */
static void probe_scheme(struct ml_registry *r)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_http *h;
	char *url;
	int rc = -1;

	r->probed = 1;
	url = ml_asprintf("%s/v2/", r->base);
	req.url = url;
	req.flags = ML_HTTP_INSECURE;
	req.timeout_s = 10;
	ml_http_response_init(&resp);
	if (ml_http_new(&h, NULL) == 0) {
		rc = ml_http_do(h, &req, &resp, NULL);
		ml_http_free(h);
	}
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

/* A copy of the Authorization value for scope (bearer token, else basic), or NULL. */
static char *auth_for(struct ml_registry *r, const char *scope)
{
	char *out = ml_token_cache_get(r->tokens, scope ? scope : "");

	if (out)
		return out;
	pthread_mutex_lock(&r->lock);
	out = ml_strdup(r->basic);
	pthread_mutex_unlock(&r->lock);
	return out;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* 1 with credentials in r->cred, 0 for anonymous access, negative when the
 * lookup failed. Only the first caller runs the lookup, without the lock; the
 * outcome, failure included, is kept for the run. */
static int load_credential(struct ml_registry *r, struct ml_error *err)
{
	ml_credential_fn fn = hooks && hooks->credential ? hooks->credential : ml_auth_credential;
	struct ml_credential cred = { 0 };
	struct ml_error e = { 0 };
	int rc;

	pthread_mutex_lock(&r->lock);
	while (r->cred_state == CRED_BUSY)
		pthread_cond_wait(&r->cred_done, &r->lock);
	if (r->cred_state != CRED_UNKNOWN) {
		rc = r->cred_state == CRED_FOUND ? 1 : r->cred_state == CRED_NONE ? 0 :
		     -r->cred_err.code;
		if (rc < 0 && err)
			*err = r->cred_err;
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	r->cred_state = CRED_BUSY;
	pthread_mutex_unlock(&r->lock);

	rc = fn(r->host, &cred, &e);
	if (rc < 0) {
		if (!e.code)
			ml_error_set(&e, -rc, "credential lookup failed");
		rc = ml_error_prefix(&e, "credentials for registry '%s'", r->host);
	}

	pthread_mutex_lock(&r->lock);
	if (rc > 0) {
		r->cred = cred;
		r->cred_state = CRED_FOUND;
	} else {
		ml_credential_dispose(&cred);
		r->cred_state = rc == 0 ? CRED_NONE : CRED_FAILED;
		r->cred_err = e;
	}
	pthread_cond_broadcast(&r->cred_done);
	pthread_mutex_unlock(&r->lock);
	if (rc < 0) {
		if (err)
			*err = e;
		return rc;
	}
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
	int found;

	pthread_mutex_lock(&r->lock);
	found = r->cred_state == CRED_FOUND;
	pthread_mutex_unlock(&r->lock);
	if (found)
		return ml_error_set(err, ML_EAUTH, "%s: registry '%s' refused the credentials from %s "
				    "(hint: check the user name and password or token)",
				    what, r->host, r->cred.source ? r->cred.source : "the credential hook");
	return ml_error_set(err, ML_EAUTH, "%s: registry '%s' requires credentials (hint: an "
			    "auths or credHelpers entry in ~/.docker/config.json, or "
			    "MLDEPLOY_REGISTRY_USERNAME and MLDEPLOY_REGISTRY_PASSWORD)", what, r->host);
}

/* A new token for scope replaces the old one; expires_in defaults to 60 s, as the
 * distribution spec's token protocol says. */
static void add_token(struct ml_registry *r, const char *scope, const char *token,
		      int64_t expires_in)
{
	char *auth = ml_asprintf("Bearer %s", token);

	ml_token_cache_put(r->tokens, scope ? scope : "", auth,
			   expires_in > 0 ? expires_in : TOKEN_DEFAULT_LIFE_S);
	ml_free_secret(auth);
}

/* "repository:a:pull,push repository:b:pull" -> scope=...&scope=... */
static void add_scopes(struct ml_buf *url, const char *scopes)
{
	const char *p = scopes;

	while (*p) {
		size_t n = strcspn(p, " ");
		char *one = ml_strndup(p, n);

		ml_buf_adds(url, "&scope=");
		ml_http_urlencode(url, one);
		free(one);
		p += n;
		while (*p == ' ')
			p++;
	}
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
	int64_t expires_in;
	int rc, have;

	if (!ch->realm || (strncmp(ch->realm, "https://", 8) &&
			   !(strncmp(ch->realm, "http://", 7) == 0 && r->insecure)))
		return ml_error_set(err, ML_EPROTO, "registry '%s' sent a bearer challenge without "
				    "a usable https realm", r->host);
	have = load_credential(r, err);
	if (have < 0)
		return have;
	ml_buf_printf(&url, "%s%cservice=", ch->realm, strchr(ch->realm, '?') ? '&' : '?');
	ml_http_urlencode(&url, ch->service ? ch->service : r->host);
	add_scopes(&url, scope ? scope : ch->scope ? ch->scope : "");
	if (have)
		basic = basic_header(&r->cred);
	req.url = url.data;
	req.auth = basic;
	req.flags = ML_HTTP_RETRY | ML_HTTP_FOLLOW | (r->insecure ? ML_HTTP_INSECURE : 0);
	req.max_body = 1 << 20;
	ml_http_response_init(&resp);
	rc = ml_reg_http(r, &req, &resp, err);
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
	if (ml_json_get_int(doc, "expires_in", &expires_in) < 0)
		expires_in = 0;
	add_token(r, scope ? scope : ch->scope, token, expires_in);
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
			pthread_mutex_lock(&r->lock);
			free_secret(r->basic);
			r->basic = basic_header(&r->cred);
			pthread_mutex_unlock(&r->lock);
			rc = 0;
		}
	} else {
		rc = ml_error_set(err, ML_EPROTO, "registry '%s' asks for unsupported authentication "
				  "'%s'", r->host, ch.scheme);
	}
	ml_challenge_dispose(&ch);
	return rc;
}

/* Credentials go only to the registry's own origin: an upload Location on
 * another host (blob storage) gets the request without them. */
static int same_origin_as_registry(const struct ml_registry *r, const char *url)
{
	return ml_http_same_origin(r->base, url);
}

int ml_reg_do(struct ml_registry *r, const struct ml_reg_req *q,
	      struct ml_http_response *resp, struct ml_error *err)
{
	struct ml_http_request req = { 0 };
	const char *headers[4];
	char *url = NULL, *auth = NULL;
	size_t nh;
	int attempt, rc = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->probed)
		probe_scheme(r);
	pthread_mutex_unlock(&r->lock);
	for (attempt = 0; attempt < 2; attempt++) {
		const char *challenge;

		free(url);
		url = q->url ? ml_strdup(q->url) : ml_asprintf("%s%s", r->base, q->path);
		free_secret(auth);
		auth = same_origin_as_registry(r, url) ? auth_for(r, q->scope) : NULL;
		memset(&req, 0, sizeof(req));
		req.method = q->method;
		req.url = url;
		req.auth = auth;
		nh = 0;
		if (q->accept)
			headers[nh++] = q->accept;
		if (q->content_type)
			headers[nh++] = q->content_type;
		if (q->content_range)
			headers[nh++] = q->content_range;
		req.headers = headers;
		req.nheaders = nh;
		req.body = q->body;
		req.sink = q->sink;
		req.max_body = q->max_body;
		req.flags = q->flags | ML_HTTP_FOLLOW | (q->no_retry ? 0 : ML_HTTP_RETRY) |
			    (r->insecure ? ML_HTTP_INSECURE : 0);
		ml_http_response_dispose(resp);
		ml_http_response_init(resp);
		rc = ml_reg_http(r, &req, resp, err);
		if (rc < 0 || resp->status != 401 || attempt == 1)
			break;
		challenge = ml_http_response_header(resp, "WWW-Authenticate");
		if (!challenge)
			break;
		if (q->body && q->body->read && q->body->rewind && q->body->rewind(q->body->ud) < 0)
			break;
		rc = authenticate(r, challenge, q->scope, err);
		if (rc < 0)
			break;
	}
	free(url);
	free_secret(auth);
	if (rc == 0 && resp->status == 401)
		rc = auth_error(r, q->what ? q->what : q->path, err);
	return rc;
}

/* A registry error as "what: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)". */
int ml_reg_status_error(struct ml_registry *r, int code, const char *what,
			const struct ml_http_response *resp, struct ml_error *err)
{
	ml_json *doc = ml_json_parse(ml_buf_str(&resp->body), resp->body.len, NULL);
	ml_json *e0 = ml_json_at(ml_json_get(doc, "errors"), 0);
	struct ml_buf plain = ML_BUF_INIT, detail = ML_BUF_INIT;
	int rc;

	/* the registry's words may quote a token, a signed URL, a request body */
	if (e0) {
		ml_buf_printf(&plain, "%s: %s", ml_json_get_str(e0, "code") ?
			      ml_json_get_str(e0, "code") : "?", ml_json_get_str(e0, "message") ?
			      ml_json_get_str(e0, "message") : "");
		ml_buf_adds(&detail, " (");
		ml_redact_text(&detail, ml_buf_str(&plain), plain.len, DETAIL_MAX);
		ml_buf_adds(&detail, ")");
	} else if (resp->body.len) {
		ml_buf_adds(&detail, " (");
		ml_redact_body(&detail, ml_http_response_header(resp, "Content-Type"), resp->body.data,
			       resp->body.len, DETAIL_MAX);
		ml_buf_adds(&detail, ")");
	}
	ml_sanitize(detail.data ? detail.data : (char[]){ 0 });
	/* ECR and Artifact Registry take no push to a repository nobody created */
	if (e0 && ml_json_get_str(e0, "code") && !strcmp(ml_json_get_str(e0, "code"), "NAME_UNKNOWN"))
		ml_buf_adds(&detail, " (hint: create the repository first, or let mldeploy deploy "
			    "create it: deploy.aws.create_repository, deploy.gcp.create_repository)");
	rc = ml_error_set(err, code, "%s on '%s': HTTP %ld%s", what, r->host, resp->status,
			  ml_buf_str(&detail));
	ml_buf_dispose(&plain);
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
	const char *header;
	char *scope = pull_scope(repo);
	char *what = ml_asprintf("manifest %s/%s%s%s", r->host, repo, ml_digest_valid(ref) ? "@" : ":", ref);
	char *path = ml_asprintf("/v2/%s/manifests/%s", repo, ref);
	struct ml_reg_req q = { .method = "GET", .path = path, .what = what, .scope = scope,
				.accept = MANIFEST_ACCEPT, .max_body = ML_MANIFEST_MAX };
	int rc;

	ml_http_response_init(&resp);
	rc = ml_reg_do(r, &q, &resp, err);
	if (rc < 0)
		goto out;
	if (resp.status == 404) {
		rc = ml_reg_status_error(r, ML_ENOTFOUND, what, &resp, err);
		goto out;
	}
	if (resp.status != 200) {
		rc = ml_reg_status_error(r, ML_EPROTO, what, &resp, err);
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
	free(path);
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
	char *scope = pull_scope(repo);
	char *what = ml_asprintf("blob %s in %s", digest, repo);
	char *path = ml_asprintf("/v2/%s/blobs/%s", repo, digest);
	struct ml_reg_req q = { .method = "GET", .path = path, .what = what, .scope = scope,
				.sink = &sink, .max_body = 1 << 16 };
	char got[ML_DIGEST_LEN];
	int rc;

	s.hash = ml_sha256_new();
	ml_http_response_init(&resp);
	rc = ml_reg_do(r, &q, &resp, err);
	if (rc < 0)
		goto out;
	if (resp.status != 200) {
		rc = ml_reg_status_error(r, resp.status == 404 ? ML_ENOTFOUND : ML_EPROTO, what, &resp, err);
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
	free(path);
	free(scope);
	free(what);
	return rc;
}
