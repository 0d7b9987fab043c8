/* Google credential files (see gcred.h), in the formats google-auth-library and
 * gcloud write: a service account key, gcloud's authorized_user ADC file, a
 * workload identity federation configuration, an impersonated service account. */
#include "gcp/gcred.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "wrap/json.h"

#define FILE_MAX (64u << 10)
#define LIFETIME_MAX_S 43200	/* IAM Credentials' longest (12 h, with the org policy) */
#define NESTING_MAX 1		/* impersonated_service_account's source, no deeper */

static const char *const type_names[] = {
	[ML_GCRED_SERVICE_ACCOUNT] = "service_account",
	[ML_GCRED_AUTHORIZED_USER] = "authorized_user",
	[ML_GCRED_EXTERNAL_ACCOUNT] = "external_account",
	[ML_GCRED_IMPERSONATED] = "impersonated_service_account",
};

const char *ml_gcred_type_name(enum ml_gcred_type t)
{
	return t >= ML_GCRED_SERVICE_ACCOUNT && t <= ML_GCRED_IMPERSONATED ? type_names[t] : "?";
}

/* What a file of type t is called in messages. */
static const char *what(enum ml_gcred_type t)
{
	switch (t) {
	case ML_GCRED_SERVICE_ACCOUNT:
		return "service account key";
	case ML_GCRED_AUTHORIZED_USER:
		return "authorized_user credentials";
	case ML_GCRED_EXTERNAL_ACCOUNT:
		return "external_account configuration";
	default:
		return "impersonated_service_account credentials";
	}
}

/* A string member, copied; -ML_EAUTH when it is required and missing or empty. */
static int take(char **out, const ml_json *obj, const char *key, int required,
		const struct ml_gcred *c, const char *prefix, struct ml_error *err)
{
	const char *v = ml_json_get_str(obj, key);
	const ml_json *raw = ml_json_get(obj, key);

	if (raw && !v)
		return ml_error_set(err, ML_EAUTH, "%s '%s': field '%s%s' is not a string",
				    what(c->type), c->path, prefix, key);
	if (!v || !*v) {
		if (!required)
			return 0;
		return ml_error_set(err, ML_EAUTH, "%s '%s': field '%s%s' is missing (hint: %s)",
				    what(c->type), c->path, prefix, key,
				    c->type == ML_GCRED_SERVICE_ACCOUNT ?
				    "download a new JSON key for the service account" :
				    c->type == ML_GCRED_AUTHORIZED_USER ?
				    "run 'gcloud auth application-default login' again" :
				    "write the file again with 'gcloud iam workload-identity-pools "
				    "create-cred-config' or 'gcloud auth application-default login "
				    "--impersonate-service-account'");
	}
	*out = ml_strdup(v);
	return 0;
}

static int is_url(const char *s)
{
	return !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7);
}

static int check_url(const struct ml_gcred *c, const char *key, const char *v,
		     struct ml_error *err)
{
	if (!v || is_url(v))
		return 0;
	return ml_error_set(err, ML_EAUTH, "%s '%s': field '%s' '%s' is not an http(s) URL",
			    what(c->type), c->path, key, v);
}

static int read_service_account(struct ml_gcred *c, const ml_json *doc, struct ml_error *err)
{
	int rc;

	if ((rc = take(&c->client_email, doc, "client_email", 1, c, "", err)) < 0 ||
	    (rc = take(&c->private_key, doc, "private_key", 1, c, "", err)) < 0 ||
	    (rc = take(&c->private_key_id, doc, "private_key_id", 0, c, "", err)) < 0 ||
	    (rc = take(&c->token_uri, doc, "token_uri", 0, c, "", err)) < 0 ||
	    (rc = check_url(c, "token_uri", c->token_uri, err)) < 0)
		return rc;
	if (!strstr(c->private_key, "-----BEGIN") || !strstr(c->private_key, "PRIVATE KEY-----"))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'private_key' is not a PEM "
				    "private key (hint: download a new JSON key for the service "
				    "account)", what(c->type), c->path);
	return 0;
}

static int read_authorized_user(struct ml_gcred *c, const ml_json *doc, struct ml_error *err)
{
	int rc;

	if ((rc = take(&c->client_id, doc, "client_id", 1, c, "", err)) < 0 ||
	    (rc = take(&c->client_secret, doc, "client_secret", 1, c, "", err)) < 0 ||
	    (rc = take(&c->refresh_token, doc, "refresh_token", 1, c, "", err)) < 0 ||
	    (rc = take(&c->token_uri, doc, "token_uri", 0, c, "", err)) < 0)
		return rc;
	return check_url(c, "token_uri", c->token_uri, err);
}

static int read_headers(struct ml_gcred *c, const ml_json *headers, struct ml_error *err)
{
	void *it;
	const char *v;

	if (!headers)
		return 0;
	if (!ml_json_is_object(headers))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'credential_source.headers' is "
				    "not an object", what(c->type), c->path);
	c->source_headers = ml_calloc(ml_json_size(headers) + 1, sizeof(char *));
	for (it = ml_json_iter((ml_json *)headers); it; it = ml_json_iter_next((ml_json *)headers, it)) {
		v = ml_json_str(ml_json_iter_value(it));
		if (!v || strpbrk(v, "\r\n") || strpbrk(ml_json_iter_key(it), ": \r\n"))
			return ml_error_set(err, ML_EAUTH, "%s '%s': header '%s' in "
					    "'credential_source.headers' is not a valid header",
					    what(c->type), c->path, ml_json_iter_key(it));
		c->source_headers[c->nsource_headers++] = ml_asprintf("%s: %s",
								      ml_json_iter_key(it), v);
	}
	return 0;
}

static int read_source(struct ml_gcred *c, const ml_json *src, struct ml_error *err)
{
	const ml_json *format = ml_json_get(src, "format");
	const char *type = ml_json_get_str(format, "type");
	int rc;

	if (!ml_json_is_object(src))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'credential_source' is missing",
				    what(c->type), c->path);
	if (ml_json_get(src, "environment_id") || ml_json_get(src, "executable"))
		return ml_error_set(err, ML_EAUTH, "%s '%s': a credential_source with %s is not "
				    "supported (hint: a subject token in a file or from a URL: "
				    "'file' or 'url')", what(c->type), c->path,
				    ml_json_get(src, "executable") ? "'executable'" :
				    "'environment_id' (AWS)");
	if ((rc = take(&c->source_file, src, "file", 0, c, "credential_source.", err)) < 0 ||
	    (rc = take(&c->source_url, src, "url", 0, c, "credential_source.", err)) < 0 ||
	    (rc = check_url(c, "credential_source.url", c->source_url, err)) < 0 ||
	    (rc = read_headers(c, ml_json_get(src, "headers"), err)) < 0)
		return rc;
	if (!c->source_file == !c->source_url)
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'credential_source' needs one "
				    "of 'file' and 'url'", what(c->type), c->path);
	if (!type || !strcmp(type, "text"))
		return 0;
	if (strcmp(type, "json"))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'credential_source.format.type' "
				    "'%s' is not 'text' or 'json'", what(c->type), c->path, type);
	return take(&c->source_field, format, "subject_token_field_name", 1, c,
		    "credential_source.format.", err);
}

static int read_lifetime(struct ml_gcred *c, const ml_json *doc, struct ml_error *err)
{
	const ml_json *imp = ml_json_get(doc, "service_account_impersonation");
	int64_t v;

	c->lifetime_s = 3600;
	if (!ml_json_get(imp, "token_lifetime_seconds"))
		return 0;
	if (ml_json_get_int(imp, "token_lifetime_seconds", &v) < 0 || v < 600 || v > LIFETIME_MAX_S)
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'service_account_impersonation."
				    "token_lifetime_seconds' must be a number of seconds from 600 "
				    "to %d", what(c->type), c->path, LIFETIME_MAX_S);
	c->lifetime_s = (long)v;
	return 0;
}

static int read_external(struct ml_gcred *c, const ml_json *doc, struct ml_error *err)
{
	int rc;

	if ((rc = take(&c->audience, doc, "audience", 1, c, "", err)) < 0 ||
	    (rc = take(&c->subject_token_type, doc, "subject_token_type", 1, c, "", err)) < 0 ||
	    (rc = take(&c->token_url, doc, "token_url", 0, c, "", err)) < 0 ||
	    (rc = check_url(c, "token_url", c->token_url, err)) < 0 ||
	    (rc = take(&c->impersonation_url, doc, "service_account_impersonation_url", 0, c, "",
		       err)) < 0 ||
	    (rc = check_url(c, "service_account_impersonation_url", c->impersonation_url,
			    err)) < 0 ||
	    (rc = take(&c->client_id, doc, "client_id", 0, c, "", err)) < 0 ||
	    (rc = take(&c->client_secret, doc, "client_secret", 0, c, "", err)) < 0 ||
	    (rc = take(&c->user_project, doc, "workforce_pool_user_project", 0, c, "", err)) < 0 ||
	    (rc = read_lifetime(c, doc, err)) < 0)
		return rc;
	return read_source(c, ml_json_get(doc, "credential_source"), err);
}

static int read_doc(struct ml_gcred *c, const ml_json *doc, int depth, struct ml_error *err);

static int read_impersonated(struct ml_gcred *c, const ml_json *doc, int depth,
			     struct ml_error *err)
{
	const ml_json *src = ml_json_get(doc, "source_credentials");
	const ml_json *delegates = ml_json_get(doc, "delegates");
	size_t i;
	int rc;

	if ((rc = take(&c->impersonation_url, doc, "service_account_impersonation_url", 1, c, "",
		       err)) < 0 ||
	    (rc = check_url(c, "service_account_impersonation_url", c->impersonation_url,
			    err)) < 0)
		return rc;
	c->lifetime_s = 3600;
	if (delegates && !ml_json_is_array(delegates))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'delegates' is not an array",
				    what(c->type), c->path);
	c->delegates = ml_calloc(ml_json_size(delegates) + 1, sizeof(char *));
	for (i = 0; i < ml_json_size(delegates); i++) {
		if (!ml_json_str(ml_json_at(delegates, i)))
			return ml_error_set(err, ML_EAUTH, "%s '%s': field 'delegates[%zu]' is not "
					    "a string", what(c->type), c->path, i);
		c->delegates[c->ndelegates++] = ml_strdup(ml_json_str(ml_json_at(delegates, i)));
	}
	if (!ml_json_is_object(src))
		return ml_error_set(err, ML_EAUTH, "%s '%s': field 'source_credentials' is missing",
				    what(c->type), c->path);
	if (depth >= NESTING_MAX)
		return ml_error_set(err, ML_EAUTH, "%s '%s': source_credentials nested too deep",
				    what(c->type), c->path);
	c->source = ml_calloc(1, sizeof(*c->source));
	c->source->path = ml_strdup(c->path);
	rc = read_doc(c->source, src, depth + 1, err);
	if (rc == 0 && c->source->type == ML_GCRED_IMPERSONATED)
		rc = ml_error_set(err, ML_EAUTH, "%s '%s': source_credentials of type "
				  "impersonated_service_account are not supported", what(c->type),
				  c->path);
	return rc;
}

static int read_doc(struct ml_gcred *c, const ml_json *doc, int depth, struct ml_error *err)
{
	const char *type = ml_json_get_str(doc, "type");
	const char *project = ml_json_get_str(doc, "project_id");
	int t;

	if (!type || !*type)
		return ml_error_set(err, ML_EAUTH, "credential file '%s' has no 'type' (hint: a "
				    "service account key downloaded as JSON, or the file 'gcloud auth "
				    "application-default login' writes)", c->path);
	for (t = ML_GCRED_SERVICE_ACCOUNT; t <= ML_GCRED_IMPERSONATED; t++)
		if (!strcmp(type, type_names[t]))
			break;
	if (t > ML_GCRED_IMPERSONATED)
		return ml_error_set(err, ML_EAUTH, "credential file '%s': type '%s' is not "
				    "supported (service_account, authorized_user, external_account "
				    "or impersonated_service_account)", c->path, type);
	c->type = (enum ml_gcred_type)t;
	if (!project || !*project)
		project = ml_json_get_str(doc, "quota_project_id");
	if (project && *project)
		c->project = ml_strdup(project);
	switch (c->type) {
	case ML_GCRED_SERVICE_ACCOUNT:
		return read_service_account(c, doc, err);
	case ML_GCRED_AUTHORIZED_USER:
		return read_authorized_user(c, doc, err);
	case ML_GCRED_EXTERNAL_ACCOUNT:
		return read_external(c, doc, err);
	default:
		return read_impersonated(c, doc, depth, err);
	}
}

int ml_gcred_read(struct ml_gcred **out, const char *path, const char *origin,
		  struct ml_error *err)
{
	struct ml_buf text = ML_BUF_INIT;
	struct ml_gcred *c = NULL;
	ml_json *doc = NULL;
	int rc;

	ml_buf_init(&text, FILE_MAX);
	rc = ml_read_file(path, FILE_MAX, &text, err);
	if (rc < 0) {
		ml_error_prefix(err, "%s", origin);
		if (err)
			err->code = ML_EAUTH;
		rc = -ML_EAUTH;
		goto out;
	}
	doc = ml_json_parse_secret(text.data, text.len, err);
	if (!doc || !ml_json_is_object(doc)) {
		if (doc)
			rc = ml_error_set(err, ML_EAUTH, "credential file '%s' (%s) is not a JSON "
					  "object", path, origin);
		else
			rc = ml_error_prefix(err, "credential file '%s' (%s) is not JSON", path,
					     origin);
		if (err)
			err->code = ML_EAUTH;
		rc = -ML_EAUTH;
		goto out;
	}
	c = ml_calloc(1, sizeof(*c));
	c->path = ml_strdup(path);
	rc = read_doc(c, doc, 0, err);
out:
	ml_json_free(doc);
	ml_wipe(text.data, text.len);
	ml_buf_dispose(&text);
	if (rc < 0) {
		ml_gcred_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ml_gcred_free(struct ml_gcred *c)
{
	if (!c)
		return;
	ml_gcred_free(c->source);
	ml_free_secret(c->private_key);
	ml_free_secret(c->client_secret);
	ml_free_secret(c->refresh_token);
	ml_free_secrets(c->source_headers, c->nsource_headers);
	ml_free_strings(c->delegates, c->ndelegates);
	free(c->path);
	free(c->project);
	free(c->client_email);
	free(c->private_key_id);
	free(c->token_uri);
	free(c->client_id);
	free(c->audience);
	free(c->subject_token_type);
	free(c->token_url);
	free(c->user_project);
	free(c->source_file);
	free(c->source_url);
	free(c->source_field);
	free(c->impersonation_url);
	free(c);
}

char *ml_gcred_impersonated_email(const char *url)
{
	const char *p = url ? strstr(url, "/serviceAccounts/") : NULL;
	size_t n;

	if (!p)
		return NULL;
	p += strlen("/serviceAccounts/");
	n = strcspn(p, ":/?");
	return n ? ml_strndup(p, n) : NULL;
}
