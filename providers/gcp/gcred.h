/* Google credential files (the JSON that GOOGLE_APPLICATION_CREDENTIALS or the ADC
 * file holds), read into one struct: what gauth.c needs to ask for a token, no
 * network. Internal to providers/gcp. */
#ifndef ML_GCP_GCRED_H
#define ML_GCP_GCRED_H

#include <stddef.h>

#include "util/error.h"

enum ml_gcred_type {
	ML_GCRED_SERVICE_ACCOUNT = 1,
	ML_GCRED_AUTHORIZED_USER,
	ML_GCRED_EXTERNAL_ACCOUNT,
	ML_GCRED_IMPERSONATED,
};

struct ml_gcred {
	enum ml_gcred_type type;
	char *path;			/* the file (a nested source: the same path) */
	char *project;			/* project_id, else quota_project_id */
	/* service_account */
	char *client_email, *private_key, *private_key_id, *token_uri;
	/* authorized_user (client_id and client_secret: external_account's STS client
	   too, optional there) */
	char *client_id, *client_secret, *refresh_token;
	/* external_account */
	char *audience, *subject_token_type, *token_url, *user_project;
	char *source_file, *source_url;	/* credential_source: one of them */
	char **source_headers;		/* credential_source.headers as "Name: value" */
	size_t nsource_headers;
	char *source_field;		/* format json: subject_token_field_name; NULL: text */
	/* external_account and impersonated_service_account */
	char *impersonation_url;	/* service_account_impersonation_url, or NULL */
	long lifetime_s;		/* service_account_impersonation.token_lifetime_seconds */
	char **delegates;
	size_t ndelegates;
	struct ml_gcred *source;	/* impersonated_service_account's source_credentials */
};

/* Reads the credential file path (origin names where the path came from, for
 * messages: "GOOGLE_APPLICATION_CREDENTIALS"). -ML_EAUTH naming the file and the
 * field that is missing or wrong, never a value from the file; -ML_EIO when it
 * cannot be read. */
int ml_gcred_read(struct ml_gcred **out, const char *path, const char *origin,
		  struct ml_error *err);
void ml_gcred_free(struct ml_gcred *c);	/* wipes the secrets; NULL is fine */

/* "service_account" ... */
const char *ml_gcred_type_name(enum ml_gcred_type t);
/* The service account an impersonation URL names (".../serviceAccounts/EMAIL:
 * generateAccessToken"), malloc'ed, or NULL. */
char *ml_gcred_impersonated_email(const char *url);

#endif
