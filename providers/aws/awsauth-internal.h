/* Inside the AWS credential chain: awsauth.c (the object, endpoints, clients),
 * awsprofile.c (the shared config and credentials files), awschain.c (which
 * source applies) and awsfetch.c (STS, credential_process, the container endpoint,
 * IMDSv2). Not for the rest of the provider. */
#ifndef ML_AWS_AUTH_INTERNAL_H
#define ML_AWS_AUTH_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "aws/awsauth.h"

enum ml_aws_source_kind {
	ML_AWS_SRC_STATIC,		/* keys (environment, profile) */
	ML_AWS_SRC_ASSUME_ROLE,		/* role_arn + source_profile / credential_source */
	ML_AWS_SRC_WEB_IDENTITY,	/* token file + role -> AssumeRoleWithWebIdentity */
	ML_AWS_SRC_PROCESS,		/* credential_process */
	ML_AWS_SRC_CONTAINER,		/* the container credentials endpoint */
	ML_AWS_SRC_IMDS,		/* EC2 instance metadata, v2 */
};

/* Where credentials come from; one source may lean on another (base). */
struct ml_aws_source {
	enum ml_aws_source_kind kind;
	char *desc;			/* for -v and messages: "profile dev (~/.aws/credentials)" */
	char *profile;			/* the profile it was read from, or NULL */
	struct ml_aws_credentials keys;	/* STATIC */
	char *role_arn, *session_name, *external_id;	/* ASSUME_ROLE, WEB_IDENTITY */
	int duration_s;			/* 0: STS's default */
	char *token_file;		/* WEB_IDENTITY */
	char *process;			/* PROCESS: the command line */
	char *url;			/* CONTAINER: the full URL; IMDS: the base URL */
	char *auth_token;		/* CONTAINER: AWS_CONTAINER_AUTHORIZATION_TOKEN */
	char *auth_file;		/* CONTAINER: ..._TOKEN_FILE, read for every request */
	char *sts_region;		/* the region STS is asked in (NULL: the global endpoint) */
	struct ml_aws_source *base;	/* ASSUME_ROLE: the credentials that assume it */
};

struct ml_aws_source *ml_aws_source_new(enum ml_aws_source_kind kind, const char *desc);
void ml_aws_source_free(struct ml_aws_source *s);

/* One section of an ini file: "[default]", "[profile dev]", "[sso-session x]". */
struct ml_aws_kv {
	char *key, *value;
	int line;
};
struct ml_aws_section {
	char *name;			/* the profile name ("dev"), "sso-session x" kept whole */
	int is_profile;			/* config: [default], [profile x]; credentials: all */
	struct ml_aws_kv *kv;
	size_t nkv, alloc;
	int line;
};
struct ml_aws_ini {
	char *path;			/* for messages, as given */
	struct ml_aws_section *sec;
	size_t nsec, alloc;
};
/* Both files, as read by ml_aws_profiles_load. */
struct ml_aws_profiles {
	struct ml_aws_ini config, credentials;
	char *name;			/* the selected profile */
	int explicit_name;		/* AWS_PROFILE (or AWS_DEFAULT_PROFILE) set it */
};

struct ml_awsauth {
	pthread_mutex_t lock;		/* guards cur, fetched and the fetch clients */
	char *region;
	struct ml_aws_source *src;	/* NULL until found (IMDS is looked at on first use) */
	struct ml_aws_credentials cur;	/* the last fetched */
	int fetched;
	struct ml_aws_profiles *profiles;	/* NULL when neither file exists */
	char *tried;			/* what the chain looked at, for the no-credentials error */
	struct ml_rest *sts, *meta;	/* STS, and the container or IMDS endpoint */
	char *sts_url;			/* the base URL sts was made for */
	char *sts_region;		/* the region sts signs for */
	const struct ml_aws_credentials *sts_creds;	/* what sts signs with; NULL: unsigned */
	const char *meta_header;	/* the secret header of the next meta request */
	struct sign_ud *uds;		/* ml_aws_client's hook data, freed with a */
	int64_t (*now)(void *ud);	/* the clock (tests); NULL: time() */
	void *now_ud;
};

/* A non-empty environment variable, or NULL; "true" (any case) for a flag. */
const char *ml_aws_env(const char *name);
int ml_aws_env_true(const char *name);
int64_t ml_awsauth_now(const struct ml_awsauth *a);
/* Sets the region unless one is set already; logged with where it came from. */
void ml_awsauth_set_region(struct ml_awsauth *a, const char *region, const char *from);
/* Drops the cached credentials (a refused, expired token) unless they are keys. */
void ml_awsauth_invalidate(struct ml_awsauth *a);
/* The decoder a client of that service uses: AWS's with a hint for credential errors. */
ml_rest_decode_fn ml_aws_decoder(ml_rest_decode_fn decode);

/* awsprofile.c. Parses one ini text (path for messages): -ML_EAUTH naming path and
 * line for a line that is neither a section, a key = value, a comment nor a
 * continuation ("  key = value" below "s3 ="). */
int ml_aws_ini_parse(struct ml_aws_ini *ini, const char *path, const char *text, size_t len,
		     int config_file, struct ml_error *err);
void ml_aws_ini_dispose(struct ml_aws_ini *ini);
const struct ml_aws_section *ml_aws_ini_section(const struct ml_aws_ini *ini, const char *name);
const char *ml_aws_section_get(const struct ml_aws_section *s, const char *key);
/* Reads AWS_CONFIG_FILE (~/.aws/config) and AWS_SHARED_CREDENTIALS_FILE
 * (~/.aws/credentials); *out NULL when neither exists. */
int ml_aws_profiles_load(struct ml_aws_profiles **out, struct ml_error *err);
void ml_aws_profiles_free(struct ml_aws_profiles *p);
/* A key of a profile: the credentials file first for keys, the config file's
 * "[profile name]" (or "[default]") otherwise, as the SDKs merge them. */
const char *ml_aws_profile_get(const struct ml_aws_profiles *p, const char *profile,
			       const char *key, const char **file);
int ml_aws_profile_exists(const struct ml_aws_profiles *p, const char *profile);

/* awschain.c: reads the profiles (the region too, when still unset) and finds the
 * source unless the environment keys were found (a->src stays NULL when only IMDS
 * is left); ml_aws_chain_last settles that on first use: IMDS's credentials in
 * *got and a->src set, or the one error that lists the chain. */
int ml_aws_chain_resolve(struct ml_awsauth *a, struct ml_error *err);
int ml_aws_chain_last(struct ml_awsauth *a, struct ml_aws_credentials *got, struct ml_error *err);

/* awsfetch.c: credentials from a source (called with a->lock held). */
int ml_aws_source_fetch(struct ml_awsauth *a, const struct ml_aws_source *s,
			struct ml_aws_credentials *out, struct ml_error *err);
/* awsprocess.c: credential_process's credentials; its command line split into
 * words as a POSIX shell would (quotes, backslashes; nothing expanded). */
int ml_aws_process_fetch(const struct ml_aws_source *s, struct ml_aws_credentials *out,
			 struct ml_error *err);
int ml_aws_split_command(const char *line, char ***argv, size_t *argc, struct ml_error *err);
/* An ISO 8601 UTC time ("2025-01-02T03:04:05Z", fractions allowed) as unix seconds. */
int ml_aws_parse_time(const char *s, int64_t *out);

#endif
