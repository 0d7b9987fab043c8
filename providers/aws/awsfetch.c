/* Fetching AWS credentials from a source: STS AssumeRole (signed with the base
 * credentials) and AssumeRoleWithWebIdentity (unsigned), both Query API
 * 2011-06-15 answering XML; the container credentials endpoint; IMDSv2 (a session
 * token, the role name, the role's credentials); credential_process in awsprocess.c.
 * Called with the auth's lock held: the clients here serve one request at a time. */
#include "aws/awsauth-internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/sigv4.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "wrap/json.h"
#include "wrap/xml.h"

#define STS_VERSION "2011-06-15"
#define FORM "application/x-www-form-urlencoded; charset=utf-8"
#define TOKEN_FILE_MAX (1u << 20)
#define IMDS_TTL_S "21600"
/* IMDS and the container endpoint answer at once when they are there; a laptop
 * has nothing at IMDS's address, and the chain must not hold a command up. */
#define IMDS_TIMEOUT_S 1
#define IMDS_RETRIES 1
#define CONTAINER_TIMEOUT_S 2
#define CONTAINER_RETRIES 2

int ml_aws_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") && strcmp(end, "+00:00") && strcmp(end, "UTC") && *end)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* ---- STS ---- */

static int sts_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		    struct ml_error *err)
{
	struct ml_awsauth *a = ud;
	struct ml_sigv4_params p = { .service = "sts" };

	*headers = NULL;
	*nheaders = 0;
	if (!a->sts_creds)
		return 0;	/* AssumeRoleWithWebIdentity is not signed */
	p.region = a->sts_region;
	return ml_sigv4_sign(&p, a->sts_creds, req, headers, nheaders, err);
}

static const struct ml_aws_service sts_regional = {
	"STS", "sts", "STS", "sts", 0, 0, NULL,
};
static const struct ml_aws_service sts_global = {
	"STS", "sts", "STS", "sts", 1, 0, NULL,
};

static int sts_client(struct ml_awsauth *a, const char *region, struct ml_error *err)
{
	struct ml_rest_opts o = { 0 };
	char *url = NULL;
	int overridden, rc;

	rc = ml_aws_endpoint(a, region ? &sts_regional : &sts_global, region, &url, &overridden,
			     err);
	if (rc < 0)
		return rc;
	free(a->sts_region);
	a->sts_region = ml_strdup(region ? region : "us-east-1");
	if (a->sts && !strcmp(a->sts_url, url)) {
		free(url);
		return 0;
	}
	ml_rest_free(a->sts);
	a->sts = NULL;
	free(a->sts_url);
	a->sts_url = url;
	o.service = "STS";
	o.base_url = url;
	o.decode = ml_aws_decoder(ml_rest_decode_aws_query);
	o.sign = sts_sign;
	o.ud = a;
	return ml_rest_new(&a->sts, &o, err);
}

static void form_add(struct ml_buf *f, const char *name, const char *value)
{
	ml_buf_printf(f, "%s%s=", f->len ? "&" : "", name);
	ml_sigv4_uri_encode(f, value, strlen(value), 0);
}

/* <XResponse><XResult><Credentials>: the four values. */
static int take_sts_credentials(const struct ml_buf *body, const char *action,
				struct ml_aws_credentials *out, struct ml_error *err)
{
	struct ml_xml *doc = NULL;
	const struct ml_xml *c;
	char path[128];
	int64_t exp = 0;
	int rc;

	rc = ml_xml_parse(&doc, body->data ? body->data : "", body->len, 0, err);
	if (rc < 0)
		return ml_error_prefix(err, "STS %s answered", action);
	snprintf(path, sizeof(path), "%sResponse/%sResult/Credentials", action, action);
	c = ml_xml_find(doc, path);
	if (!c || !ml_xml_text(ml_xml_find(c, "AccessKeyId")) ||
	    !*ml_xml_text(ml_xml_find(c, "AccessKeyId")) ||
	    !ml_xml_text(ml_xml_find(c, "SecretAccessKey")) ||
	    ml_aws_parse_time(ml_xml_text(ml_xml_find(c, "Expiration")), &exp) < 0) {
		ml_xml_free(doc);
		return ml_error_set(err, ML_EPROTO, "STS %s answered without credentials and their "
				    "expiration", action);
	}
	out->access_key_id = ml_strdup(ml_xml_text(ml_xml_find(c, "AccessKeyId")));
	out->secret_access_key = ml_strdup(ml_xml_text(ml_xml_find(c, "SecretAccessKey")));
	out->session_token = ml_strdup(ml_xml_text(ml_xml_find(c, "SessionToken")));
	out->expiration = exp;
	ml_xml_free(doc);
	return 0;
}

static int read_token_file(struct ml_buf *out, const char *path, struct ml_error *err)
{
	int rc;

	ml_buf_init(out, TOKEN_FILE_MAX + 1);
	rc = ml_read_file(path, TOKEN_FILE_MAX, out, err);
	if (rc < 0)
		return ml_error_prefix(err, "web identity token file");
	while (out->len && strchr(" \t\r\n", out->data[out->len - 1]))
		out->data[--out->len] = 0;
	if (!out->len)
		return ml_error_set(err, ML_EAUTH, "web identity token file '%s' is empty", path);
	return 0;
}

/* AssumeRole with base credentials, or AssumeRoleWithWebIdentity with the token
 * file's token (read again every time: the platform rotates it). */
static int sts_fetch(struct ml_awsauth *a, const struct ml_aws_source *s,
		     struct ml_aws_credentials *out, struct ml_error *err)
{
	const char *action = s->kind == ML_AWS_SRC_WEB_IDENTITY ? "AssumeRoleWithWebIdentity" :
			     "AssumeRole";
	struct ml_aws_credentials base = { 0 };
	struct ml_rest_result res = { 0 };
	struct ml_buf form = ML_BUF_INIT, token = ML_BUF_INIT;
	char session[64];
	int rc;

	if (s->kind == ML_AWS_SRC_ASSUME_ROLE)
		rc = ml_aws_source_fetch(a, s->base, &base, err);
	else
		rc = read_token_file(&token, s->token_file, err);
	if (rc < 0)
		goto out;
	rc = sts_client(a, s->sts_region, err);
	if (rc < 0)
		goto out;
	snprintf(session, sizeof(session), "mldeploy-%lld", (long long)ml_awsauth_now(a));
	form_add(&form, "Action", action);
	form_add(&form, "Version", STS_VERSION);
	form_add(&form, "RoleArn", s->role_arn);
	form_add(&form, "RoleSessionName", s->session_name ? s->session_name : session);
	if (s->external_id)
		form_add(&form, "ExternalId", s->external_id);
	if (s->duration_s) {
		snprintf(session, sizeof(session), "%d", s->duration_s);
		form_add(&form, "DurationSeconds", session);
	}
	if (token.len)
		form_add(&form, "WebIdentityToken", token.data);
	a->sts_creds = s->kind == ML_AWS_SRC_ASSUME_ROLE ? &base : NULL;
	/* asking twice for credentials does no harm */
	rc = ml_rest_call_raw(a->sts, "POST", "/", FORM, form.data, form.len,
			      ML_REST_IDEMPOTENT | ML_REST_RAW, &res, err);
	a->sts_creds = NULL;
	if (rc == 0)
		rc = take_sts_credentials(&res.resp.body, action, out, err);
out:
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	ml_wipe(form.data, form.len);
	ml_buf_dispose(&form);
	ml_wipe(token.data, token.len);
	ml_buf_dispose(&token);
	ml_aws_credentials_dispose(&base);
	return rc;
}

/* ---- the container endpoint and IMDS ---- */

static int meta_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		     struct ml_error *err)
{
	struct ml_awsauth *a = ud;

	(void)req;
	(void)err;
	*headers = NULL;
	*nheaders = 0;
	if (!a->meta_header)
		return 0;
	*headers = ml_malloc(sizeof(**headers));
	(*headers)[0] = ml_strdup(a->meta_header);
	*nheaders = 1;
	return 0;
}

static int meta_client(struct ml_awsauth *a, const char *what, const char *base, long timeout_s,
		       int retries, struct ml_error *err)
{
	struct ml_rest_opts o = { 0 };

	ml_rest_free(a->meta);
	a->meta = NULL;
	o.service = what;
	o.base_url = base;
	o.sign = meta_sign;
	o.ud = a;
	o.timeout_s = timeout_s;
	o.max_retries = retries;
	return ml_rest_new(&a->meta, &o, err);
}

/* {"AccessKeyId","SecretAccessKey","Token","Expiration"} of the container endpoint
 * and IMDS (which adds "Code": "Success"). */
static int take_json_credentials(const struct ml_buf *body, const char *what,
				 struct ml_aws_credentials *out, struct ml_error *err)
{
	ml_json *doc = ml_json_parse_secret(body->data ? body->data : "", body->len, NULL);
	const char *id = ml_json_get_str(doc, "AccessKeyId");
	const char *secret = ml_json_get_str(doc, "SecretAccessKey");
	const char *code = ml_json_get_str(doc, "Code");
	const char *exp = ml_json_get_str(doc, "Expiration");
	int rc = 0;

	if (!doc)
		rc = ml_error_set(err, ML_EPROTO, "%s answered something that is not JSON", what);
	else if (code && strcmp(code, "Success"))
		rc = ml_error_set(err, ML_EAUTH, "%s answered Code '%.64s'", what, code);
	else if (!id || !*id || !secret || !*secret)
		rc = ml_error_set(err, ML_EPROTO, "%s answered without AccessKeyId and "
				  "SecretAccessKey", what);
	else if (exp && ml_aws_parse_time(exp, &out->expiration) < 0)
		rc = ml_error_set(err, ML_EPROTO, "%s answered an Expiration that is not an ISO "
				  "8601 time", what);
	if (rc == 0) {
		out->access_key_id = ml_strdup(id);
		out->secret_access_key = ml_strdup(secret);
		out->session_token = ml_strdup(ml_json_get_str(doc, "Token"));
	}
	ml_json_free(doc);
	return rc;
}

static int container_fetch(struct ml_awsauth *a, const struct ml_aws_source *s,
			   struct ml_aws_credentials *out, struct ml_error *err)
{
	struct ml_rest_result res = { 0 };
	struct ml_buf file = ML_BUF_INIT;
	char *header = NULL;
	const char *token = s->auth_token;
	int rc;

	if (s->auth_file) {
		ml_buf_init(&file, TOKEN_FILE_MAX + 1);
		rc = ml_read_file(s->auth_file, TOKEN_FILE_MAX, &file, err);
		if (rc < 0)
			return ml_error_prefix(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
		while (file.len && strchr(" \t\r\n", file.data[file.len - 1]))
			file.data[--file.len] = 0;
		token = file.data;
	}
	if (token && strpbrk(token, "\r\n")) {
		rc = ml_error_set(err, ML_EAUTH, "the container authorization token has a line "
				  "break in it");
		goto out;
	}
	if (token && *token)
		header = ml_asprintf("Authorization: %s", token);
	rc = meta_client(a, "container credentials endpoint", s->url, CONTAINER_TIMEOUT_S,
			 CONTAINER_RETRIES, err);
	a->meta_header = header;
	if (rc == 0)
		rc = ml_rest_call(a->meta, "GET", s->url, NULL, ML_REST_RAW, &res, err);
	a->meta_header = NULL;
	if (rc == 0)
		rc = take_json_credentials(&res.resp.body, "the container credentials endpoint", out,
					   err);
out:
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	ml_free_secret(header);
	ml_wipe(file.data, file.len);
	ml_buf_dispose(&file);
	return rc;
}

/* The answer of a GET or PUT into out, never traced (the IMDS session token). */
static int sink_write(void *ud, const void *data, size_t len)
{
	return ml_buf_add(ud, data, len);
}

static int sink_reset(void *ud)
{
	ml_buf_reset(ud);
	return 0;
}

static int imds_call(struct ml_awsauth *a, const char *method, const char *url,
		     struct ml_buf *out, struct ml_error *err)
{
	struct ml_http_sink sink = { sink_write, sink_reset, out };
	struct ml_rest_result res = { 0 };
	int rc;

	ml_buf_reset(out);
	rc = ml_rest_call_stream(a->meta, method, url, NULL, NULL, &sink,
				 ML_REST_RAW | ML_REST_IDEMPOTENT, &res, err);
	ml_wipe(res.resp.body.data, res.resp.body.len);
	ml_rest_result_dispose(&res);
	return rc;
}

static int imds_fetch(struct ml_awsauth *a, const struct ml_aws_source *s,
		      struct ml_aws_credentials *out, struct ml_error *err)
{
	struct ml_buf token = ML_BUF_INIT, body = ML_BUF_INIT;
	char *header = NULL, *url = NULL, *role = NULL;
	int rc;

	ml_buf_init(&token, 4096);
	ml_buf_init(&body, 64u << 10);
	rc = meta_client(a, "IMDS", s->url, IMDS_TIMEOUT_S, IMDS_RETRIES, err);
	if (rc < 0)
		goto out;
	url = ml_asprintf("%s/latest/api/token", s->url);
	a->meta_header = "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TTL_S;
	rc = imds_call(a, "PUT", url, &token, err);
	if (rc < 0)
		goto out;
	while (token.len && strchr(" \t\r\n", token.data[token.len - 1]))
		token.data[--token.len] = 0;
	if (!token.len || strpbrk(token.data, "\r\n")) {
		rc = ml_error_set(err, ML_EPROTO, "IMDS answered an unusable session token");
		goto out;
	}
	header = ml_asprintf("X-aws-ec2-metadata-token: %s", token.data);
	a->meta_header = header;
	free(url);
	url = ml_asprintf("%s/latest/meta-data/iam/security-credentials/", s->url);
	rc = imds_call(a, "GET", url, &body, err);
	if (rc == -ML_ENOTFOUND)
		rc = ml_error_set(err, ML_EAUTH, "IMDS: no instance profile role is attached to "
				  "this instance");
	if (rc < 0)
		goto out;
	role = ml_strndup(ml_buf_str(&body), strcspn(ml_buf_str(&body), " \t\r\n"));
	if (!*role || strpbrk(role, "/?#%")) {
		rc = ml_error_set(err, ML_EPROTO, "IMDS answered no usable role name");
		goto out;
	}
	free(url);
	url = ml_asprintf("%s/latest/meta-data/iam/security-credentials/%s", s->url, role);
	rc = imds_call(a, "GET", url, &body, err);
	if (rc == 0)
		rc = take_json_credentials(&body, "IMDS", out, err);
	if (rc == 0)
		ml_log(ML_LOG_INFO, "aws: instance role %s", role);
out:
	a->meta_header = NULL;
	ml_free_secret(header);
	ml_wipe(token.data, token.len);
	ml_buf_dispose(&token);
	ml_wipe(body.data, body.len);
	ml_buf_dispose(&body);
	free(url);
	free(role);
	return rc;
}

int ml_aws_source_fetch(struct ml_awsauth *a, const struct ml_aws_source *s,
			struct ml_aws_credentials *out, struct ml_error *err)
{
	memset(out, 0, sizeof(*out));
	switch (s->kind) {
	case ML_AWS_SRC_STATIC:
		ml_aws_credentials_copy(out, &s->keys);
		return 0;
	case ML_AWS_SRC_ASSUME_ROLE:
	case ML_AWS_SRC_WEB_IDENTITY:
		return sts_fetch(a, s, out, err);
	case ML_AWS_SRC_PROCESS:
		return ml_aws_process_fetch(s, out, err);
	case ML_AWS_SRC_CONTAINER:
		return container_fetch(a, s, out, err);
	case ML_AWS_SRC_IMDS:
		return imds_fetch(a, s, out, err);
	}
	return ml_error_set(err, ML_EINTERNAL, "aws: unknown credential source");
}
