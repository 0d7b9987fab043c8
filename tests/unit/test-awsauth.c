/* providers/aws/awsauth.c and the chain behind it, without the network: the shared
 * files' ini quirks, the chain's precedence, its errors (one message listing what
 * was tried), credential_process (quoting, its format, failures, the deadline,
 * refresh before expiry), the region and the endpoints. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/awsauth-internal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/json.h"
#include "testutil.h"

static struct ut_tmpdir tmp;

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR",
	"AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_S3",
	"AWS_ENDPOINT_URL_ELASTIC_BEANSTALK", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"MLDEPLOY_CREDHELPER_TIMEOUT_S", NULL,
};

static int setup(void **state)
{
	size_t i;

	(void)state;
	if (ut_tmpdir_make(&tmp, "test-awsauth") < 0)
		return -1;
	for (i = 0; aws_vars[i]; i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", tmp.root, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ut_tmpdir_remove(&tmp);
}

static char *path_in(const char *name)
{
	return ml_asprintf("%s/%s", tmp.root, name);
}

static void write_file(const char *name, const char *text, int mode)
{
	char *p = path_in(name), *dir = ml_strdup(p);
	FILE *f;

	*strrchr(dir, '/') = 0;
	ut_sh("mkdir -p '%s'", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
	free(dir);
	free(p);
}

static struct ml_awsauth *new_ok(const char *region)
{
	struct ml_awsauth *a = NULL;
	struct ml_error err = { 0, "" };
	int rc = ml_awsauth_new(&a, region, &err);

	if (rc < 0)
		fail_msg("ml_awsauth_new: %s", err.msg);
	return a;
}

static int new_fails(const char *want, struct ml_error *err)
{
	struct ml_awsauth *a = NULL;
	int rc = ml_awsauth_new(&a, NULL, err);

	assert_null(a);
	assert_has(err->msg, want);
	return rc;
}

/* The credentials a gives, the key id compared, the source described. */
static void creds_are(struct ml_awsauth *a, const char *id, const char *secret, const char *token,
		      const char *source)
{
	struct ml_aws_credentials c;
	struct ml_error err = { 0, "" };

	if (ml_awsauth_credentials(a, &c, &err) < 0)
		fail_msg("credentials: %s", err.msg);
	assert_string_equal(c.access_key_id, id);
	assert_string_equal(c.secret_access_key, secret);
	if (token)
		assert_string_equal(c.session_token, token);
	else
		assert_null(c.session_token);
	assert_has(ml_awsauth_source(a), source);
	ml_aws_credentials_dispose(&c);
}

/* ---- the ini files ---- */

static void test_ini_quirks(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf# a comment\r\n"
		"; another\n"
		"[default]\n"
		"Region = eu-west-1   # inline comment\n"
		"output=json;not a comment\n"
		"s3 =\n"
		"  max_concurrent_requests = 20\n"
		"  addressing_style = path\n"
		"cli_pager =\n"
		"[ profile   dev ]\n"
		"region: us-west-2\n"
		"region = ap-south-1\n"
		"[dev]\n"
		"region = nope\n"
		"[sso-session corp]\n"
		"sso_region = us-east-1\n"
		"[profile dev]\n"
		"aws_access_key_id = AKIDDEV\n";
	struct ml_aws_ini ini;
	struct ml_error err = { 0, "" };
	const struct ml_aws_section *s;

	(void)state;
	assert_int_equal(ml_aws_ini_parse(&ini, "cfg", text, sizeof(text) - 1, 1, &err), 0);
	s = ml_aws_ini_section(&ini, "default");
	assert_non_null(s);
	assert_string_equal(ml_aws_section_get(s, "region"), "eu-west-1");
	assert_string_equal(ml_aws_section_get(s, "output"), "json;not a comment");
	assert_string_equal(ml_aws_section_get(s, "s3"), "");
	assert_null(ml_aws_section_get(s, "max_concurrent_requests"));
	assert_string_equal(ml_aws_section_get(s, "cli_pager"), "");
	s = ml_aws_ini_section(&ini, "dev");
	assert_non_null(s);
	/* the last value wins; "[dev]" in the config file is not the profile dev */
	assert_string_equal(ml_aws_section_get(s, "region"), "ap-south-1");
	assert_string_equal(ml_aws_section_get(s, "aws_access_key_id"), "AKIDDEV");
	assert_null(ml_aws_ini_section(&ini, "corp"));
	assert_null(ml_aws_ini_section(&ini, "sso-session corp"));
	ml_aws_ini_dispose(&ini);

	/* the credentials file takes names as they are */
	assert_int_equal(ml_aws_ini_parse(&ini, "cred", "[profile x]\na=1\n[y]\nb=2", 23, 0, &err),
			 0);
	assert_non_null(ml_aws_ini_section(&ini, "profile x"));
	assert_non_null(ml_aws_ini_section(&ini, "y"));
	assert_string_equal(ml_aws_section_get(ml_aws_ini_section(&ini, "y"), "b"), "2");
	ml_aws_ini_dispose(&ini);
}

static void test_ini_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "aws_secret_access_key = SECRETVALUE\n", "f:1: a setting before any [section]" },
		{ "[default]\nSECRETVALUE\n", "f:2: not a section" },
		{ "[default\nx=1\n", "f:1: malformed section header" },
		{ "[]\n", "f:1: malformed section header" },
		{ "[default]\n = SECRETVALUE\n", "f:2: a value without a key" },
		{ "[default]\nregion = us\0-east-1\n", "f:2: a NUL byte" },
	};
	struct ml_aws_ini ini;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ml_error err = { 0, "" };
		size_t len = strlen(cases[i].text);

		/* the NUL case goes on after its NUL */
		if (strstr(cases[i].want, "NUL"))
			len += strlen(cases[i].text + len + 1) + 1;
		assert_int_equal(ml_aws_ini_parse(&ini, "f", cases[i].text, len, 1, &err), -ML_EAUTH);
		assert_has(err.msg, cases[i].want);
		assert_lacks(err.msg, "SECRETVALUE");
		ml_aws_ini_dispose(&ini);
	}
}

/* ---- the chain ---- */

static void test_env_keys_first(void **state)
{
	struct ml_awsauth *a;

	(void)state;
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n"
		   "aws_secret_access_key = filesecret\n", 0600);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("AWS_PROFILE", "default", 1);
	a = new_ok(NULL);
	assert_null(ml_awsauth_source(a));	/* not before the first fetch */
	creds_are(a, "AKIDENV", "envsecret", "envtoken", "environment (AWS_ACCESS_KEY_ID)");
	ml_awsauth_free(a);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	a = NULL;
	{
		struct ml_error err = { 0, "" };

		assert_int_equal(new_fails("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY",
					   &err), -ML_EAUTH);
	}
	unsetenv("AWS_ACCESS_KEY_ID");
	a = new_ok(NULL);
	creds_are(a, "AKIDFILE", "filesecret", NULL, "profile default (~/.aws/credentials)");
	ml_awsauth_free(a);
}

/* The credentials file wins over the config file for one profile; AWS_PROFILE picks
 * it; AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files. */
static void test_profiles(void **state)
{
	struct ml_awsauth *a;
	struct ml_error err = { 0, "" };

	(void)state;
	write_file("c/config", "[profile dev]\nregion = eu-central-1\naws_access_key_id = AKIDCFG\n"
		   "aws_secret_access_key = cfgsecret\n[profile cfgonly]\n"
		   "aws_access_key_id = AKIDCFG2\naws_secret_access_key = s2\n"
		   "aws_session_token = t2\n", 0600);
	write_file("c/creds", "[dev]\nAWS_ACCESS_KEY_ID = AKIDCRED\nAws_Secret_Access_Key = "
		   "credsecret\n", 0600);
	setenv("AWS_CONFIG_FILE", "~/c/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/c/creds", 1);
	setenv("AWS_PROFILE", "dev", 1);
	a = new_ok(NULL);
	assert_string_equal(ml_awsauth_region(a), "eu-central-1");
	creds_are(a, "AKIDCRED", "credsecret", NULL, "profile dev (~/c/creds)");
	ml_awsauth_free(a);
	a = new_ok("us-west-1");	/* deploy.aws.region wins over the profile */
	assert_string_equal(ml_awsauth_region(a), "us-west-1");
	ml_awsauth_free(a);
	setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
	a = new_ok(NULL);
	assert_string_equal(ml_awsauth_region(a), "sa-east-1");
	ml_awsauth_free(a);
	setenv("AWS_REGION", "af-south-1", 1);
	a = new_ok(NULL);
	assert_string_equal(ml_awsauth_region(a), "af-south-1");
	ml_awsauth_free(a);
	setenv("AWS_PROFILE", "cfgonly", 1);
	a = new_ok(NULL);
	creds_are(a, "AKIDCFG2", "s2", "t2", "profile cfgonly (~/c/config)");
	ml_awsauth_free(a);

	setenv("AWS_PROFILE", "missing", 1);
	assert_int_equal(new_fails("aws profile missing (AWS_PROFILE) is in neither ~/c/creds "
				   "nor ~/c/config", &err), -ML_EAUTH);
	write_file("c/config", "[profile empty]\nregion = us-east-1\n", 0600);
	setenv("AWS_PROFILE", "empty", 1);
	assert_int_equal(new_fails("aws profile empty (AWS_PROFILE) has no credentials", &err),
			 -ML_EAUTH);
	write_file("c/creds", "[dev]\naws_access_key_id = AKIDONLY\n", 0600);
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(new_fails("aws profile dev in ~/c/creds: aws_access_key_id without "
				   "aws_secret_access_key", &err), -ML_EAUTH);
	write_file("c/creds", "[dev]\nthis line is wrong\n", 0600);
	assert_int_equal(new_fails("~/c/creds:2: not a section", &err), -ML_EAUTH);
}

/* role_arn + source_profile: the source's own chain, described for -v; a profile
 * that is its own source gives its keys; errors say what is missing. */
static void test_role_profiles(void **state)
{
	struct ml_awsauth *a;
	struct ml_error err = { 0, "" };

	(void)state;
	write_file(".aws/config",
		   "[profile deployer]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
		   "source_profile = base\nexternal_id = ext-1\nduration_seconds = 1800\n"
		   "region = eu-west-3\n"
		   "[profile self]\nrole_arn = arn:aws:iam::123456789012:role/self\n"
		   "source_profile = self\naws_access_key_id = AKIDSELF\n"
		   "aws_secret_access_key = selfsecret\n"
		   "[profile two]\nrole_arn = arn:aws:iam::123456789012:role/two\n"
		   "source_profile = deployer\n"
		   "[profile loop1]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop2\n"
		   "[profile loop2]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop1\n"
		   "[profile nosrc]\nrole_arn = arn:aws:iam::1:role/a\n"
		   "[profile mfa]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = base\n"
		   "mfa_serial = arn:aws:iam::1:mfa/me\n"
		   "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
		   "[profile web]\nrole_arn = arn:aws:iam::1:role/web\n"
		   "web_identity_token_file = /tmp/tok\n"
		   "[profile envsrc]\nrole_arn = arn:aws:iam::1:role/e\n"
		   "credential_source = Environment\n"
		   "[profile badsrc]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = Moon\n",
		   0600);
	write_file(".aws/credentials", "[base]\naws_access_key_id = AKIDBASE\n"
		   "aws_secret_access_key = basesecret\n", 0600);
	setenv("AWS_PROFILE", "deployer", 1);
	a = new_ok(NULL);
	assert_non_null(a->src);
	assert_int_equal(a->src->kind, ML_AWS_SRC_ASSUME_ROLE);
	assert_string_equal(a->src->desc, "role arn:aws:iam::123456789012:role/deploy of profile "
			    "deployer (assumed with profile base (~/.aws/credentials))");
	assert_string_equal(a->src->external_id, "ext-1");
	assert_int_equal(a->src->duration_s, 1800);
	assert_string_equal(a->src->sts_region, "eu-west-3");
	assert_int_equal(a->src->base->kind, ML_AWS_SRC_STATIC);
	ml_awsauth_free(a);

	setenv("AWS_PROFILE", "self", 1);
	a = new_ok(NULL);
	assert_int_equal(a->src->kind, ML_AWS_SRC_ASSUME_ROLE);
	assert_string_equal(a->src->base->keys.access_key_id, "AKIDSELF");
	ml_awsauth_free(a);

	setenv("AWS_PROFILE", "two", 1);
	a = new_ok(NULL);
	assert_int_equal(a->src->base->kind, ML_AWS_SRC_ASSUME_ROLE);
	assert_int_equal(a->src->base->base->kind, ML_AWS_SRC_STATIC);
	ml_awsauth_free(a);

	setenv("AWS_PROFILE", "web", 1);
	a = new_ok(NULL);
	assert_int_equal(a->src->kind, ML_AWS_SRC_WEB_IDENTITY);
	assert_string_equal(a->src->token_file, "/tmp/tok");
	ml_awsauth_free(a);

	setenv("AWS_PROFILE", "envsrc", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	a = new_ok(NULL);
	/* the environment's keys come first, whatever the profile says */
	assert_int_equal(a->src->kind, ML_AWS_SRC_STATIC);
	ml_awsauth_free(a);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(new_fails("credential_source Environment, but AWS_ACCESS_KEY_ID", &err),
			 -ML_EAUTH);

	setenv("AWS_PROFILE", "loop1", 1);
	assert_int_equal(new_fails("source_profile makes a loop", &err), -ML_EAUTH);
	setenv("AWS_PROFILE", "nosrc", 1);
	assert_int_equal(new_fails("role_arn without source_profile or credential_source", &err),
			 -ML_EAUTH);
	setenv("AWS_PROFILE", "mfa", 1);
	assert_int_equal(new_fails("mfa_serial is not supported", &err), -ML_EAUTH);
	setenv("AWS_PROFILE", "sso", 1);
	assert_int_equal(new_fails("uses IAM Identity Center (SSO)", &err), -ML_EAUTH);
	setenv("AWS_PROFILE", "badsrc", 1);
	assert_int_equal(new_fails("credential_source 'Moon' is not", &err), -ML_EAUTH);
}

/* Web identity from the environment comes before the profile; half of it is an error. */
static void test_web_identity_env(void **state)
{
	struct ml_awsauth *a;
	struct ml_error err = { 0, "" };

	(void)state;
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n"
		   "aws_secret_access_key = filesecret\n", 0600);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/ci", 1);
	setenv("AWS_ROLE_SESSION_NAME", "ci-run", 1);
	a = new_ok("us-east-2");
	assert_int_equal(a->src->kind, ML_AWS_SRC_WEB_IDENTITY);
	assert_string_equal(a->src->desc, "web identity (AWS_ROLE_ARN)");
	assert_string_equal(a->src->session_name, "ci-run");
	assert_string_equal(a->src->sts_region, "us-east-2");
	ml_awsauth_free(a);
	unsetenv("AWS_ROLE_ARN");
	assert_int_equal(new_fails("AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN", &err),
			 -ML_EAUTH);
}

static void test_container_source(void **state)
{
	struct ml_awsauth *a;
	struct ml_error err = { 0, "" };

	(void)state;
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
	a = new_ok(NULL);
	assert_int_equal(a->src->kind, ML_AWS_SRC_CONTAINER);
	assert_string_equal(a->src->url, "http://169.254.170.2/v2/credentials/abc");
	ml_awsauth_free(a);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.5:8080/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok", 1);
	a = new_ok(NULL);
	assert_string_equal(a->src->url, "http://127.0.0.5:8080/creds");
	assert_string_equal(a->src->auth_token, "tok");
	ml_awsauth_free(a);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[fd00:ec2::23]/creds", 1);
	a = new_ok(NULL);
	ml_awsauth_free(a);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example/creds", 1);
	assert_int_equal(new_fails("is not on a loopback address", &err), -ML_EAUTH);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1@evil.example/", 1);
	assert_int_equal(new_fails("is not on a loopback address", &err), -ML_EAUTH);
}

/* Nothing anywhere: one message naming every source looked at and what to set. */
static void test_no_credentials(void **state)
{
	struct ml_awsauth *a = new_ok(NULL);
	struct ml_aws_credentials c;
	struct ml_error err = { 0, "" };
	char *url;

	(void)state;
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), -ML_EAUTH);
	assert_has(err.msg, "no aws credentials: tried environment (AWS_ACCESS_KEY_ID and "
		   "AWS_SECRET_ACCESS_KEY not set), web identity");
	assert_has(err.msg, "profile default in ~/.aws/credentials and ~/.aws/config (none)");
	assert_has(err.msg, "container credentials");
	assert_has(err.msg, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
	assert_has(err.msg, "(hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	assert_null(ml_awsauth_source(a));
	ml_awsauth_free(a);

	/* IMDS that does not answer: said so, quickly */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	url = ml_asprintf("http://127.0.0.1:%d", ut_closed_port());
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	a = new_ok(NULL);
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), -ML_EAUTH);
	assert_has(err.msg, "no aws credentials: tried ");
	assert_has(err.msg, "EC2 instance metadata at http://127.0.0.1:");
	ml_awsauth_free(a);
	free(url);
}

/* ---- credential_process ---- */

static void test_split_command(void **state)
{
	char **v;
	size_t n;
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_aws_split_command("  /bin/p  'a b' \"c \\\"d\\\" $e\" f\\ g 'h'i \"\"",
					      &v, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_string_equal(v[0], "/bin/p");
	assert_string_equal(v[1], "a b");
	assert_string_equal(v[2], "c \"d\" $e");
	assert_string_equal(v[3], "f g");
	assert_string_equal(v[4], "hi");
	assert_string_equal(v[5], "");
	ml_free_strings(v, n);
	assert_int_equal(ml_aws_split_command("p 'open", &v, &n, &err), -ML_EAUTH);
	assert_has(err.msg, "unterminated single quote");
	assert_int_equal(ml_aws_split_command("   ", &v, &n, &err), -ML_EAUTH);
}

static void process_profile(const char *script)
{
	char *cfg;

	write_file("bin/cred.sh", script, 0700);
	cfg = ml_asprintf("[default]\ncredential_process = sh %s/bin/cred.sh\n",
			  tmp.root);
	write_file(".aws/config", cfg, 0600);
	free(cfg);
}

static int credentials_fail(struct ml_awsauth *a, const char *want, struct ml_error *err)
{
	struct ml_aws_credentials c;
	int rc = ml_awsauth_credentials(a, &c, err);

	assert_has(err->msg, want);
	return rc;
}

static void test_process(void **state)
{
	struct ml_awsauth *a;
	struct ml_error err = { 0, "" };

	(void)state;
	process_profile("echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
			"\"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctoken\", "
			"\"Expiration\": \"2999-01-01T00:00:00Z\"}'\n");
	a = new_ok(NULL);
	creds_are(a, "AKIDPROC", "procsecret", "proctoken", "credential_process of profile default");
	ml_awsauth_free(a);

	process_profile("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'\n");
	a = new_ok(NULL);
	assert_int_equal(credentials_fail(a, "printed no \"Version\": 1", &err), -ML_EAUTH);
	ml_awsauth_free(a);

	process_profile("echo 'SECRETOUTPUT'; exit 3\n");
	a = new_ok(NULL);
	assert_int_equal(credentials_fail(a, "credential_process of profile default failed (exit 3; "
					  "what it printed is not shown)", &err), -ML_EAUTH);
	assert_lacks(err.msg, "SECRETOUTPUT");
	ml_awsauth_free(a);

	process_profile("echo 'SECRETOUTPUT {'\n");
	a = new_ok(NULL);
	assert_int_equal(credentials_fail(a, "printed something that is not a JSON object", &err),
			 -ML_EAUTH);
	assert_lacks(err.msg, "SECRETOUTPUT");
	ml_awsauth_free(a);

	process_profile("exec sleep 10\n");
	setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", "1", 1);
	a = new_ok(NULL);
	{
		double t0 = ut_now_s();

		assert_int_equal(credentials_fail(a, "did not finish within 1 s and was stopped",
						  &err), -ML_EAUTH);
		assert_true(ut_now_s() - t0 < 5);
	}
	ml_awsauth_free(a);
	unsetenv("MLDEPLOY_CREDHELPER_TIMEOUT_S");

	write_file(".aws/config", "[default]\ncredential_process = /nonexistent/helper\n", 0600);
	a = new_ok(NULL);
	/* "cannot run", or exit 127 where the C library runs it in a child (valgrind) */
	assert_int_equal(credentials_fail(a, "credential_process of profile default", &err),
			 -ML_EAUTH);
	ml_awsauth_free(a);
}

static int64_t fake_now;

static int64_t fake_clock(void *ud)
{
	(void)ud;
	return fake_now;
}

/* Temporary credentials are fetched again once fewer than 10 minutes are left, and
 * credentials already expired are refused. */
static void test_refresh(void **state)
{
	struct ml_awsauth *a;
	struct ml_aws_credentials c;
	struct ml_error err = { 0, "" };
	char *script, *count = path_in("count");

	(void)state;
	script = ml_asprintf("echo x >> %s\n"
			     "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
			     "\"SecretAccessKey\": \"s\", \"Expiration\": \"2030-01-01T01:00:00Z\"}'\n",
			     count);
	process_profile(script);
	a = new_ok(NULL);
	a->now = fake_clock;
	fake_now = 1893456000;	/* 2030-01-01T00:00:00Z: an hour left */
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), 0);
	ml_aws_credentials_dispose(&c);
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), 0);
	ml_aws_credentials_dispose(&c);
	assert_int_equal(ut_sh("test $(wc -l < %s) = 1", count), 0);
	fake_now += 3600 - 9 * 60;	/* 9 minutes left */
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), 0);
	assert_int_equal(c.expiration, 1893459600);
	ml_aws_credentials_dispose(&c);
	assert_int_equal(ut_sh("test $(wc -l < %s) = 2", count), 0);
	fake_now += 3600;	/* expired at the source */
	assert_int_equal(ml_awsauth_credentials(a, &c, &err), -ML_EAUTH);
	assert_has(err.msg, "aws credentials from credential_process of profile default");
	assert_has(err.msg, "have expired");
	ml_awsauth_free(a);
	free(script);
	free(count);
}

static void test_parse_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(ml_aws_parse_time("2030-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 1893456000);
	assert_int_equal(ml_aws_parse_time("2030-01-01T00:00:00.123456Z", &t), 0);
	assert_int_equal(t, 1893456000);
	assert_int_equal(ml_aws_parse_time("2030-01-01T00:00:00+00:00", &t), 0);
	assert_int_equal(ml_aws_parse_time("2030-01-01T00:00:00+02:00", &t), -1);
	assert_int_equal(ml_aws_parse_time("tomorrow", &t), -1);
}

/* ---- endpoints ---- */

static const struct ml_aws_service svc_eb = { "ELASTIC_BEANSTALK", "elasticbeanstalk",
					      "Elastic Beanstalk", "elasticbeanstalk", 0, 0, NULL };
static const struct ml_aws_service svc_iam = { "IAM", "iam", "IAM", "iam", 1, 0, NULL };
static const struct ml_aws_service svc_ecr = { "ECR", "ecr", "ECR", "api.ecr", 0, 0, NULL };

static char *endpoint(const struct ml_aws_service *svc, const char *region, int *over)
{
	struct ml_error err = { 0, "" };
	char *url = NULL;

	if (ml_aws_endpoint(NULL, svc, region, &url, over, &err) < 0)
		fail_msg("endpoint: %s", err.msg);
	return url;
}

static void test_endpoints(void **state)
{
	struct ml_error err = { 0, "" };
	char *u;
	int over;

	(void)state;
	u = endpoint(&svc_eb, "eu-west-1", &over);
	assert_string_equal(u, "https://elasticbeanstalk.eu-west-1.amazonaws.com");
	assert_int_equal(over, 0);
	free(u);
	u = endpoint(&svc_ecr, "cn-north-1", &over);
	assert_string_equal(u, "https://api.ecr.cn-north-1.amazonaws.com.cn");
	free(u);
	u = endpoint(&svc_iam, "eu-west-1", &over);
	assert_string_equal(u, "https://iam.amazonaws.com");
	free(u);
	u = endpoint(&svc_iam, NULL, &over);
	assert_string_equal(u, "https://iam.amazonaws.com");
	free(u);
	u = endpoint(&svc_iam, "cn-northwest-1", &over);
	assert_string_equal(u, "https://iam.cn-north-1.amazonaws.com.cn");
	free(u);
	assert_int_equal(ml_aws_endpoint(NULL, &svc_eb, NULL, &u, &over, &err), -ML_ECONFIG);
	assert_has(err.msg, "no AWS region for Elastic Beanstalk");
	assert_int_equal(ml_aws_endpoint(NULL, &svc_eb, "us-east-1.evil.example/x", &u, &over, &err),
			 -ML_ECONFIG);
	assert_has(err.msg, "AWS region 'us-east-1.evil.example/x' is not a region name");

	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
	u = endpoint(&svc_eb, "eu-west-1", &over);
	assert_string_equal(u, "http://127.0.0.1:4566");
	assert_int_equal(over, 1);
	free(u);
	setenv("AWS_ENDPOINT_URL_ELASTIC_BEANSTALK", "https://eb.internal:8443", 1);
	u = endpoint(&svc_eb, "eu-west-1", &over);
	assert_string_equal(u, "https://eb.internal:8443");
	free(u);
	u = endpoint(&svc_ecr, "eu-west-1", &over);
	assert_string_equal(u, "http://127.0.0.1:4566");
	free(u);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	u = endpoint(&svc_eb, "eu-west-1", &over);
	assert_string_equal(u, "https://elasticbeanstalk.eu-west-1.amazonaws.com");
	assert_int_equal(over, 0);
	free(u);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL_IAM", "iam.example", 1);
	assert_int_equal(ml_aws_endpoint(NULL, &svc_iam, NULL, &u, &over, &err), -ML_EUSAGE);
	assert_has(err.msg, "AWS_ENDPOINT_URL_IAM 'iam.example' is not an http:// or https:// URL");
}

/* A refusal of the credentials gets a hint whatever the service's decoder; XML
 * answers of JSON services are read too; other errors are left as they are. */
static void test_decoder_hint(void **state)
{
	static const char xml[] = "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch"
				  "</Code><Message>The request signature we calculated does not "
				  "match</Message></Error></Errors></ErrorResponse>";
	static const char json[] = "{\"__type\": \"RepositoryNotFoundException\", "
				   "\"message\": \"no such repository\"}";
	struct ml_http_response resp;
	ml_rest_decode_fn d = ml_aws_decoder(ml_rest_decode_aws_json);
	char line[512], code[ML_REST_CODE_MAX];

	(void)state;
	assert_true(d == ml_aws_decoder(ml_rest_decode_aws_json));
	assert_true(d != ml_aws_decoder(ml_rest_decode_aws_query));
	ml_http_response_init(&resp);
	resp.status = 403;
	ml_buf_adds(&resp.body, xml);
	assert_int_equal(d(&resp, line, sizeof(line), code), 1);
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_has(line, "SignatureDoesNotMatch: The request signature we calculated does not match "
		   "(hint: the secret access key does not match the access key id");
	ml_buf_reset(&resp.body);
	ml_buf_adds(&resp.body, json);
	resp.status = 400;
	assert_int_equal(d(&resp, line, sizeof(line), code), 1);
	assert_string_equal(code, "RepositoryNotFoundException");
	assert_lacks(line, "hint");
	ml_http_response_dispose(&resp);
}

/* A client signs every attempt (the session token sent too) and retries AWS's
 * throttling answer (400 ThrottlingException), at an AWS_ENDPOINT_URL_ECR. */
static void test_client_signs_and_retries(void **state)
{
	struct ut_fake fake = { 0, 0 };
	struct ml_awsauth *a;
	struct ml_rest *r = NULL;
	struct ml_rest_result res = { 0 };
	struct ml_error err = { 0, "" };
	char *url;
	int rc;

	(void)state;
	if (ut_fake_run(&fake, "restfake.py", NULL) < 0)
		fail_msg("restfake.py did not start");
	url = ml_asprintf("http://127.0.0.1:%d", fake.port);
	setenv("AWS_ENDPOINT_URL_ECR", url, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDCLIENT", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "clientsecret", 1);
	setenv("AWS_SESSION_TOKEN", "clienttoken", 1);
	setenv("MLDEPLOY_RETRY_BASE_MS", "1", 1);
	a = new_ok("eu-west-1");
	assert_int_equal(ml_aws_client(a, &svc_ecr, NULL, &r, &err), 0);
	rc = ml_rest_call(r, "GET", "/flaky?id=aws&fail=2&status=400&format=aws-throttle", NULL, 0,
			  &res, &err);
	if (rc < 0)
		fail_msg("call: %s", err.msg);
	assert_int_equal(res.resp.retries, 2);
	ml_rest_result_dispose(&res);
	assert_int_equal(ml_rest_call(r, "GET", "/seen?id=aws", NULL, 0, &res, &err), 0);
	{
		ml_json *auth = ml_json_get(res.body, "auth"), *tok = ml_json_get(res.body, "token");
		size_t i;

		assert_int_equal(ml_json_size(auth), 3);
		for (i = 0; i < 3; i++) {
			assert_has(ml_json_str(ml_json_at(auth, i)), "AWS4-HMAC-SHA256 Credential="
				   "AKIDCLIENT/");
			assert_has(ml_json_str(ml_json_at(auth, i)), "/eu-west-1/ecr/aws4_request, "
				   "SignedHeaders=accept;host;x-amz-date;x-amz-security-token, ");
			assert_string_equal(ml_json_str(ml_json_at(tok, i)), "clienttoken");
		}
	}
	ml_rest_result_dispose(&res);
	assert_string_equal(ml_awsauth_source(a), "environment (AWS_ACCESS_KEY_ID)");
	ml_rest_free(r);
	ml_awsauth_free(a);
	unsetenv("MLDEPLOY_RETRY_BASE_MS");
	free(url);
	ut_fake_kill(&fake);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ini_quirks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_keys_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_web_identity_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decoder_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_signs_and_retries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
