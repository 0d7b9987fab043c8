/* Azure Container Registry logins (see acr.h), after the registry's own
 * description of its Entra ID integration (Azure/acr docs/AAD-OAuth.md). */
#include "azure/acr.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "deploy/rest.h"
#include "deploy/token.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/digest.h"
#include "wrap/json.h"

#define CLAIMS_MAX (64u << 10)		/* of a refresh token's decoded claims */
#define ERROR_BODY_MAX (1u << 20)	/* larger error bodies are not parsed */
/* ACR's refresh tokens live 3 hours; one without a readable exp claim is kept
 * for less, then exchanged again. */
#define REFRESH_DEFAULT_S 600

/* Login server suffixes and their cloud's Resource Manager scope. */
static const struct {
	const char *suffix;
	const char *scope;
} clouds[] = {
	{ ".azurecr.io", "https://management.azure.com/.default" },
	{ ".azurecr.cn", "https://management.chinacloudapi.cn/.default" },
	{ ".azurecr.us", "https://management.usgovcloudapi.net/.default" },
};

const char *ml_acr_scope(const char *host)
{
	size_t i, n = strlen(host), name, k;

	for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++) {
		k = strlen(clouds[i].suffix);
		if (n <= k || strcasecmp(host + n - k, clouds[i].suffix))
			continue;
		/* one DNS label before the suffix: the registry's name */
		name = n - k;
		if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") ==
		    name && host[0] != '-')
			return clouds[i].scope;
	}
	return NULL;
}

/* The registry's errors: {"errors": [{"code": "UNAUTHORIZED", "message": "..."}]},
 * else the Entra ID and Azure shapes. */
static int decode_acr(const struct ml_http_response *resp, char *out, size_t cap,
		      char *code_out)
{
	ml_json *doc = NULL, *first;
	const char *code;
	int ok = 0;

	if (resp->body.len && resp->body.len <= ERROR_BODY_MAX)
		doc = ml_json_parse(resp->body.data, resp->body.len, NULL);
	first = ml_json_at(ml_json_get(doc, "errors"), 0);
	code = ml_json_get_str(first, "code");
	if (code && *code) {
		ml_entra_error_line(out, cap, code, ml_json_get_str(first, "message"));
		if (code_out)
			ml_entra_error_line(code_out, ML_REST_CODE_MAX, code, NULL);
		ok = 1;
	}
	ml_json_free(doc);
	return ok ? 1 : ml_entra_decode_error(resp, out, cap, code_out);
}

/* Seconds until the exp claim of a JWT, else REFRESH_DEFAULT_S; at least 1 (0 would
 * mean "no expiry" to the token cache). */
static int64_t jwt_lifetime(const char *jwt)
{
	const char *p = strchr(jwt, '.'), *q = p ? strchr(p + 1, '.') : NULL;
	struct ml_buf raw = ML_BUF_INIT;
	int64_t exp = 0, life = REFRESH_DEFAULT_S;
	ml_json *claims;

	ml_buf_init(&raw, CLAIMS_MAX);
	if (q && ml_base64url_decode(&raw, p + 1, (size_t)(q - p - 1)) == 0) {
		claims = ml_json_parse(raw.data, raw.len, NULL);
		if (ml_json_get_int(claims, "exp", &exp) == 0 && exp > 0)
			life = exp - (int64_t)time(NULL);
		ml_json_free(claims);
	}
	ml_wipe(raw.data, raw.len);
	ml_buf_dispose(&raw);
	return life > 0 ? life : 1;
}

static void form_add(struct ml_buf *f, const char *name, const char *value)
{
	ml_buf_printf(f, "%s%s=", f->len ? "&" : "", name);
	ml_http_urlencode(f, value);
}

int ml_acr_refresh_token(struct ml_entra *e, const char *host, char **token,
			 int64_t *lifetime_s, struct ml_error *err)
{
	const char *scope = ml_acr_scope(host), *refresh;
	struct ml_rest_opts o = { 0 };
	struct ml_rest_result res = { 0 };
	struct ml_rest *r = NULL;
	struct ml_buf form = ML_BUF_INIT;
	char *aad = NULL, *base = ml_asprintf("https://%s", host);
	int rc;

	if (!scope) {
		rc = ml_error_set(err, ML_EINTERNAL, "'%s' is not an azure container registry",
				  host);
		goto out;
	}
	rc = ml_entra_token(e, scope, &aad, err);
	if (rc < 0)
		goto out;
	o.service = "ACR token exchange";
	o.base_url = base;
	o.decode = decode_acr;
	rc = ml_rest_new(&r, &o, err);
	if (rc < 0)
		goto out;
	form_add(&form, "grant_type", "access_token");
	form_add(&form, "service", host);
	if (ml_entra_tenant(e))
		form_add(&form, "tenant", ml_entra_tenant(e));
	form_add(&form, "access_token", aad);
	ml_log(ML_LOG_INFO, "registry %s: exchanging an Entra ID token for an ACR refresh token",
	       host);
	/* an exchange done twice gives two tokens and changes nothing */
	rc = ml_rest_call_raw(r, "POST", "/oauth2/exchange", "application/x-www-form-urlencoded",
			      form.data, form.len, ML_REST_IDEMPOTENT, &res, err);
	if (rc < 0)
		goto out;
	refresh = ml_json_get_str(res.body, "refresh_token");
	if (!refresh || !*refresh) {
		rc = ml_error_set(err, ML_EPROTO, "ACR token exchange: registry '%s' answered "
				  "without a refresh token", host);
		goto out;
	}
	*token = ml_strdup(refresh);
	if (lifetime_s)
		*lifetime_s = jwt_lifetime(refresh);
out:
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	ml_rest_free(r);
	ml_wipe(form.data, form.len);
	ml_buf_dispose(&form);
	ml_free_secret(aad);
	free(base);
	return rc;
}

/* The registry hook has no per-run state to keep things in (push calls it from its
 * threads, see provider.h): the Entra ID credential and the refresh tokens by login
 * server live for the process here, behind one lock, so that concurrent pushes to
 * one registry make one exchange. */
static struct {
	pthread_mutex_t lock;
	struct ml_entra *entra;
	struct ml_token_cache *refresh;
} hook = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL };

static char *lower(const char *s)
{
	char *out = ml_strdup(s), *p;

	for (p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* 1 with a refresh token for host in *token; 0 when no Entra ID credential is
 * there (out may then hold the Docker config's credential: rc 1 from
 * ml_auth_credential is passed on as 2). Called with the lock held. */
static int hook_token(const char *host, char **token, struct ml_credential *out,
		      struct ml_error *err)
{
	int64_t life = 0;
	int rc;

	*token = ml_token_cache_get(hook.refresh, host);
	if (*token)
		return 1;
	if (!hook.entra && (rc = ml_entra_new(&hook.entra, NULL, err)) < 0)
		return rc;
	/* Nothing named in the environment: a login the user keeps for this registry
	 * (an admin user, `az acr login`) comes before asking the metadata service,
	 * which a laptop does not have. */
	if (!ml_entra_configured(hook.entra)) {
		rc = ml_auth_credential(host, out, err);
		if (rc != 0)
			return rc < 0 ? rc : 2;
		if (!ml_entra_available(hook.entra))
			return 0;
	}
	rc = ml_acr_refresh_token(hook.entra, host, token, &life, err);
	if (rc < 0)
		return rc;
	ml_token_cache_put(hook.refresh, host, *token, life);
	return 1;
}

int ml_acr_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err)
{
	char *key, *token = NULL;
	int rc;

	if (!ml_acr_scope(host))
		return 0;
	key = lower(host);
	pthread_mutex_lock(&hook.lock);
	if (!hook.refresh)
		hook.refresh = ml_token_cache_new();
	rc = hook_token(key, &token, out, err);
	if (rc == 1) {
		out->username = ml_strdup(ML_ACR_USER);
		out->secret = token;
		out->source = ml_asprintf("the ACR token exchange (Entra ID: %s)",
					  ml_entra_source(hook.entra));
	}
	pthread_mutex_unlock(&hook.lock);
	free(key);
	return rc == 2 ? 1 : rc;
}
