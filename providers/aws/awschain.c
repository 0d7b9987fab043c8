/* Which AWS credential source applies, in the SDKs' order, without the network:
 * environment keys (awsauth.c), web identity from the environment, the profile
 * (role_arn + source_profile or credential_source, web_identity_token_file, keys,
 * credential_process), the container credentials endpoint, then IMDSv2, which only
 * the network can tell (ml_aws_chain_last). */
#include "aws/awsauth-internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_DEFAULT "http://169.254.169.254"
#define PROFILE_DEPTH_MAX 8
#define HINT "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a " \
	"profile of ~/.aws/credentials or ~/.aws/config, or AWS_WEB_IDENTITY_TOKEN_FILE " \
	"and AWS_ROLE_ARN, or run where a container or instance role is available"

static void tried(struct ml_awsauth *a, const char *what, const char *suffix)
{
	struct ml_buf b = ML_BUF_INIT;

	if (a->tried)
		ml_buf_printf(&b, "%s, ", a->tried);
	ml_buf_printf(&b, "%s%s", what, suffix);
	free(a->tried);
	a->tried = ml_buf_detach(&b);
}

static struct ml_aws_source *role_source(enum ml_aws_source_kind kind, const char *desc,
					 const char *role_arn, const char *session_name)
{
	struct ml_aws_source *s = ml_aws_source_new(kind, desc);

	s->role_arn = ml_strdup(role_arn);
	s->session_name = ml_strdup(session_name);
	return s;
}

/* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: 1 found, 0 not set, or an error. */
static int env_web_identity(struct ml_awsauth *a, struct ml_error *err)
{
	const char *file = ml_aws_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = ml_aws_env("AWS_ROLE_ARN");

	tried(a, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set)", "");
	if (!file && !role)
		return 0;
	if (!file || !role)
		return ml_error_set(err, ML_EAUTH, "%s is set without %s (hint: web identity "
				    "needs both the token file and the role to assume)",
				    file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
				    file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
	a->src = role_source(ML_AWS_SRC_WEB_IDENTITY, "web identity (AWS_ROLE_ARN)", role,
			     ml_aws_env("AWS_ROLE_SESSION_NAME"));
	a->src->token_file = ml_strdup(file);
	a->src->sts_region = ml_strdup(a->region);
	return 1;
}

/* ---- profiles ---- */

struct walk {
	struct ml_awsauth *a;
	const char *seen[PROFILE_DEPTH_MAX];
	int depth;
};

static int profile_source(struct walk *w, const char *name, int keys_only,
			  struct ml_aws_source **out, struct ml_error *err);

static const char *pget(const struct walk *w, const char *name, const char *key, const char **file)
{
	return ml_aws_profile_get(w->a->profiles, name, key, file);
}

/* credential_source: where a role's base credentials come from, instead of a profile. */
static int credential_source(struct walk *w, const char *name, const char *v,
			     struct ml_aws_source **out, struct ml_error *err);

static int assume_role(struct walk *w, const char *name, const char *role,
		       struct ml_aws_source **out, struct ml_error *err)
{
	const char *sp = pget(w, name, "source_profile", NULL);
	const char *cs = pget(w, name, "credential_source", NULL);
	const char *dur = pget(w, name, "duration_seconds", NULL);
	const char *region = pget(w, name, "region", NULL);
	struct ml_aws_source *s, *base = NULL;
	char desc[512];
	char *end;
	long d = 0;
	int rc;

	if (pget(w, name, "mfa_serial", NULL))
		return ml_error_set(err, ML_EAUTH, "aws profile %s: mfa_serial is not supported "
				    "(mldeploy cannot prompt for a code; hint: use credential_process, "
				    "or get a session first and pass it in AWS_SESSION_TOKEN)", name);
	if (sp && cs)
		return ml_error_set(err, ML_EAUTH, "aws profile %s: both source_profile and "
				    "credential_source are set (hint: keep one)", name);
	if (!sp && !cs)
		return ml_error_set(err, ML_EAUTH, "aws profile %s: role_arn without "
				    "source_profile or credential_source (hint: name the profile "
				    "whose credentials assume the role)", name);
	if (dur) {
		d = strtol(dur, &end, 10);
		if (*end || end == dur || d < 900 || d > 43200)
			return ml_error_set(err, ML_EAUTH, "aws profile %s: duration_seconds '%s' "
					    "is not a number of seconds from 900 to 43200", name, dur);
	}
	if (sp)
		/* a profile naming itself gives its own keys */
		rc = profile_source(w, sp, !strcmp(sp, name), &base, err);
	else
		rc = credential_source(w, name, cs, &base, err);
	if (rc < 0)
		return rc;
	snprintf(desc, sizeof(desc), "role %s of profile %s (assumed with %s)", role, name,
		 base->desc);
	s = role_source(ML_AWS_SRC_ASSUME_ROLE, desc, role, pget(w, name, "role_session_name", NULL));
	s->profile = ml_strdup(name);
	s->external_id = ml_strdup(pget(w, name, "external_id", NULL));
	s->duration_s = (int)d;
	s->base = base;
	s->sts_region = ml_strdup(region ? region : w->a->region);
	*out = s;
	return 0;
}

static int container_source(struct ml_awsauth *a, struct ml_aws_source **out,
			    struct ml_error *err);
static struct ml_aws_source *imds_source(void);

static int credential_source(struct walk *w, const char *name, const char *v,
			     struct ml_aws_source **out, struct ml_error *err)
{
	struct ml_aws_source *s = NULL;
	int rc = 0;

	if (!strcmp(v, "Environment")) {
		const char *id = ml_aws_env("AWS_ACCESS_KEY_ID");
		const char *secret = ml_aws_env("AWS_SECRET_ACCESS_KEY");

		if (!id || !secret)
			return ml_error_set(err, ML_EAUTH, "aws profile %s: credential_source "
					    "Environment, but AWS_ACCESS_KEY_ID and "
					    "AWS_SECRET_ACCESS_KEY are not both set", name);
		s = ml_aws_source_new(ML_AWS_SRC_STATIC, "environment (AWS_ACCESS_KEY_ID)");
		s->keys.access_key_id = ml_strdup(id);
		s->keys.secret_access_key = ml_strdup(secret);
		s->keys.session_token = ml_strdup(ml_aws_env("AWS_SESSION_TOKEN"));
	} else if (!strcmp(v, "EcsContainer")) {
		rc = container_source(w->a, &s, err);
		if (rc == 0)
			return ml_error_set(err, ML_EAUTH, "aws profile %s: credential_source "
					    "EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
					    "and _FULL_URI are not set", name);
	} else if (!strcmp(v, "Ec2InstanceMetadata")) {
		s = imds_source();
	} else {
		return ml_error_set(err, ML_EAUTH, "aws profile %s: credential_source '%s' is not "
				    "Environment, EcsContainer or Ec2InstanceMetadata", name, v);
	}
	if (rc < 0)
		return rc;
	*out = s;
	return 0;
}

static int static_keys(struct walk *w, const char *name, struct ml_aws_source **out,
		       struct ml_error *err)
{
	const char *file = NULL, *sfile = NULL;
	const char *id = pget(w, name, "aws_access_key_id", &file);
	const char *secret = pget(w, name, "aws_secret_access_key", &sfile);
	char desc[512];
	struct ml_aws_source *s;

	if (!id && !secret)
		return 0;
	if (!id || !secret)
		return ml_error_set(err, ML_EAUTH, "aws profile %s in %s: %s without %s", name,
				    id ? file : sfile, id ? "aws_access_key_id" : "aws_secret_access_key",
				    id ? "aws_secret_access_key" : "aws_access_key_id");
	snprintf(desc, sizeof(desc), "profile %s (%s)", name, file);
	s = ml_aws_source_new(ML_AWS_SRC_STATIC, desc);
	s->profile = ml_strdup(name);
	s->keys.access_key_id = ml_strdup(id);
	s->keys.secret_access_key = ml_strdup(secret);
	s->keys.session_token = ml_strdup(pget(w, name, "aws_session_token", NULL));
	*out = s;
	return 1;
}

/* The source a profile names: 1 found, 0 none (the profile exists but has no
 * credential), negative on error. keys_only: a profile that is its own
 * source_profile gives its keys, not its role again. */
static int profile_lookup(struct walk *w, const char *name, int keys_only,
			  struct ml_aws_source **out, struct ml_error *err)
{
	const char *role = pget(w, name, "role_arn", NULL);
	const char *wif = pget(w, name, "web_identity_token_file", NULL);
	const char *proc = pget(w, name, "credential_process", NULL);
	const char *file;
	char desc[512];
	int rc;

	if (role && !keys_only) {
		if (wif) {
			snprintf(desc, sizeof(desc), "web identity of profile %s (role %s)", name, role);
			*out = role_source(ML_AWS_SRC_WEB_IDENTITY, desc, role,
					   pget(w, name, "role_session_name", NULL));
			(*out)->token_file = ml_strdup(wif);
			(*out)->profile = ml_strdup(name);
			file = pget(w, name, "region", NULL);
			(*out)->sts_region = ml_strdup(file ? file : w->a->region);
			return 1;
		}
		rc = assume_role(w, name, role, out, err);
		return rc < 0 ? rc : 1;
	}
	rc = static_keys(w, name, out, err);
	if (rc != 0)
		return rc;
	if (proc) {
		pget(w, name, "credential_process", &file);
		snprintf(desc, sizeof(desc), "credential_process of profile %s (%s)", name, file);
		*out = ml_aws_source_new(ML_AWS_SRC_PROCESS, desc);
		(*out)->process = ml_strdup(proc);
		(*out)->profile = ml_strdup(name);
		return 1;
	}
	if (pget(w, name, "sso_session", NULL) || pget(w, name, "sso_start_url", NULL))
		return ml_error_set(err, ML_EAUTH, "aws profile %s uses IAM Identity Center (SSO), "
				    "which mldeploy does not read (hint: set credential_process = "
				    "aws configure export-credentials --profile %s --format process "
				    "in another profile and use that one)", name, name);
	return 0;
}

static int profile_source(struct walk *w, const char *name, int keys_only,
			  struct ml_aws_source **out, struct ml_error *err)
{
	int i, rc;

	for (i = 0; i < w->depth; i++)
		if (!strcmp(w->seen[i], name) && !keys_only)
			return ml_error_set(err, ML_EAUTH, "aws profile %s: source_profile makes a "
					    "loop (hint: end the chain at a profile with keys)", name);
	if (w->depth == PROFILE_DEPTH_MAX)
		return ml_error_set(err, ML_EAUTH, "aws profile %s: more than %d source profiles "
				    "in a row", name, PROFILE_DEPTH_MAX);
	if (!ml_aws_profile_exists(w->a->profiles, name))
		return ml_error_set(err, ML_EAUTH, "aws profile %s (a source_profile) is in neither "
				    "%s nor %s", name, w->a->profiles->credentials.path,
				    w->a->profiles->config.path);
	w->seen[w->depth++] = name;
	rc = profile_lookup(w, name, keys_only, out, err);
	w->depth--;
	if (rc == 0)
		rc = ml_error_set(err, ML_EAUTH, "aws profile %s (a source_profile) has no "
				  "credentials", name);
	return rc < 0 ? rc : 0;
}

static int from_profile(struct ml_awsauth *a, struct ml_error *err)
{
	struct ml_aws_profiles *p = a->profiles;
	struct walk w = { a, { NULL }, 0 };
	char what[1024];
	int rc;

	snprintf(what, sizeof(what), "profile %s in %s and %s", p->name, p->credentials.path,
		 p->config.path);
	if (!ml_aws_profile_exists(p, p->name)) {
		if (p->explicit_name)
			return ml_error_set(err, ML_EAUTH, "aws profile %s (AWS_PROFILE) is in neither "
					    "%s nor %s (hint: [%s] in the credentials file, "
					    "[profile %s] in the config file)", p->name,
					    p->credentials.path, p->config.path, p->name, p->name);
		tried(a, what, " (none)");
		return 0;
	}
	w.seen[w.depth++] = p->name;
	rc = profile_lookup(&w, p->name, 0, &a->src, err);
	if (rc == 0) {
		if (p->explicit_name)
			return ml_error_set(err, ML_EAUTH, "aws profile %s (AWS_PROFILE) has no "
					    "credentials: no aws_access_key_id, role_arn, "
					    "web_identity_token_file or credential_process", p->name);
		tried(a, what, " (no credentials in it)");
	}
	return rc;
}

/* ---- container endpoint and IMDS ---- */

/* The hosts the SDKs send a container token to: loopback, ECS's and EKS's. */
static int allowed_container_host(const char *url)
{
	static const char *const hosts[] = { "localhost", "169.254.170.2", "169.254.170.23",
					      "[fd00:ec2::23]", "[::1]", NULL };
	const char *h = strstr(url, "://");
	char host[256];
	struct in_addr ip;
	size_t n, i;

	if (!h)
		return 0;
	h += 3;
	n = strcspn(h, "/?#");
	if (memchr(h, '@', n) || n >= sizeof(host))
		return 0;
	memcpy(host, h, n);
	host[n] = 0;
	if (host[0] == '[') {
		char *close = strchr(host, ']');

		if (close)
			close[1] = 0;
	} else {
		host[strcspn(host, ":")] = 0;
	}
	for (i = 0; hosts[i]; i++)
		if (!strcasecmp(host, hosts[i]))
			return 1;
	return inet_pton(AF_INET, host, &ip) == 1 && (ntohl(ip.s_addr) >> 24) == 127;
}

static int container_source(struct ml_awsauth *a, struct ml_aws_source **out,
			    struct ml_error *err)
{
	const char *rel = ml_aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = ml_aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	struct ml_aws_source *s;

	(void)a;
	if (!rel && !full)
		return 0;
	if (!rel && (strncmp(full, "http://", 7) && strncmp(full, "https://", 8)))
		return ml_error_set(err, ML_EAUTH, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not "
				    "an http:// or https:// URL", full);
	if (!rel && !allowed_container_host(full))
		return ml_error_set(err, ML_EAUTH, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not "
				    "on a loopback address or the ECS/EKS credential hosts "
				    "(169.254.170.2, 169.254.170.23, fd00:ec2::23): the "
				    "authorization token is not sent elsewhere", full);
	s = ml_aws_source_new(ML_AWS_SRC_CONTAINER, rel ?
			      "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)" :
			      "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)");
	s->url = rel ? ml_asprintf("%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel) :
		 ml_strdup(full);
	s->auth_file = ml_strdup(ml_aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
	if (!s->auth_file)
		s->auth_token = ml_strdup(ml_aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	*out = s;
	return 1;
}

static struct ml_aws_source *imds_source(void)
{
	const char *ep = ml_aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct ml_aws_source *s = ml_aws_source_new(ML_AWS_SRC_IMDS, ep ?
		"EC2 instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT)" :
		"EC2 instance metadata");
	size_t n;

	s->url = ml_strdup(ep ? ep : IMDS_DEFAULT);
	n = strlen(s->url);
	while (n && s->url[n - 1] == '/')
		s->url[--n] = 0;
	return s;
}

int ml_aws_chain_resolve(struct ml_awsauth *a, struct ml_error *err)
{
	const char *r;
	int rc;

	rc = ml_aws_profiles_load(&a->profiles, err);
	if (rc < 0)
		return rc;
	r = ml_aws_profile_get(a->profiles, a->profiles->name, "region", NULL);
	if (r && !a->region) {
		char from[300];

		snprintf(from, sizeof(from), "profile %s", a->profiles->name);
		ml_awsauth_set_region(a, r, from);
	}
	if (a->src)
		return 0;
	tried(a, "environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set)", "");
	rc = env_web_identity(a, err);
	if (rc == 0)
		rc = from_profile(a, err);
	if (rc == 0) {
		tried(a, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
		      "_FULL_URI not set)", "");
		rc = container_source(a, &a->src, err);
	}
	return rc < 0 ? rc : 0;
}

int ml_aws_chain_last(struct ml_awsauth *a, struct ml_aws_credentials *got, struct ml_error *err)
{
	struct ml_aws_source *s;
	struct ml_error why = { 0, "" };
	int rc;

	if (ml_aws_env_true("AWS_EC2_METADATA_DISABLED"))
		return ml_error_set(err, ML_EAUTH, "no aws credentials: tried %s, EC2 instance "
				    "metadata (disabled by AWS_EC2_METADATA_DISABLED) (hint: %s)",
				    a->tried, HINT);
	s = imds_source();
	rc = ml_aws_source_fetch(a, s, got, &why);
	if (rc < 0) {
		rc = ml_error_set(err, ML_EAUTH, "no aws credentials: tried %s, EC2 instance "
				  "metadata at %s (%s) (hint: %s)", a->tried, s->url, why.msg, HINT);
		ml_aws_source_free(s);
		return rc;
	}
	a->src = s;
	return 0;
}
