/* Google access tokens, found as Google's own client libraries find them, in this
 * order:
 *   1. CLOUDSDK_AUTH_ACCESS_TOKEN (a token as it is; no refresh);
 *   2. GOOGLE_APPLICATION_CREDENTIALS, else the ADC file
 *      ($CLOUDSDK_CONFIG or ~/.config/gcloud, application_default_credentials.json),
 *      by its "type":
 *      - service_account: an RS256 JWT assertion (iss = client_email, scope
 *        cloud-platform, aud = token_uri, 1 h) exchanged at token_uri (the
 *        jwt-bearer grant, RFC 7523);
 *      - authorized_user: the refresh_token grant at the OAUTH2 endpoint;
 *      - external_account: workload identity federation: the subject token from
 *        credential_source.file or .url (format text or json), exchanged at
 *        token_url (STS, RFC 8693), then service_account_impersonation_url
 *        (IAM Credentials generateAccessToken) when present;
 *      - impersonated_service_account: its source_credentials, then
 *        service_account_impersonation_url;
 *   3. the metadata server (GCE_METADATA_HOST, default metadata.google.internal),
 *      when it answers.
 * Endpoints: OAUTH2 (https://oauth2.googleapis.com; a key's token_uri wins), STS
 * (https://sts.googleapis.com), IAMCREDENTIALS (https://iamcredentials.googleapis.com)
 * through ml_endpoint. Tokens are cached until shortly before their expiry. No
 * token, key or assertion ever reaches a message or a log. */
#ifndef ML_GCP_GAUTH_H
#define ML_GCP_GAUTH_H

#include "config/config.h"
#include "deploy/rest.h"
#include "util/error.h"

#define ML_GAUTH_SCOPE "https://www.googleapis.com/auth/cloud-platform"

struct ml_gauth;

/* Reads the environment and the credential file (no network). cfg may be NULL
 * (the registry login has none). A malformed or unreadable key file is -ML_EAUTH
 * naming the file and the field (never its content). */
int ml_gauth_new(struct ml_gauth **out, const struct ml_config *cfg, struct ml_error *err);
void ml_gauth_free(struct ml_gauth *g);	/* wipes keys and cached tokens; NULL is fine */

/* A cloud-platform access token (malloc'ed; free with ml_free_secret). Without any
 * credential: -ML_EAUTH with one message listing what was tried and how to fix it
 * (`gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS=key.json).
 * A refused credential: -ML_EAUTH with the token endpoint's error (invalid_grant:
 * ...). Several threads may call it (the registry pushes in parallel). */
int ml_gauth_token(struct ml_gauth *g, char **token, struct ml_error *err);
/* 1 when CLOUDSDK_AUTH_ACCESS_TOKEN or a credential file names a credential,
 * without asking anyone; else 0. */
int ml_gauth_configured(const struct ml_gauth *g);
/* 1 when ml_gauth_token has a credential to use: a configured one, or the metadata
 * server answering a probe (once per object; about 2 s at most when nothing
 * answers); else 0. */
int ml_gauth_available(struct ml_gauth *g);

/* A Google-signed ID token (a JWT; malloc'ed, free with ml_free_secret) for
 * audience (a Cloud Run service's URL), cached per audience until shortly before
 * its hour runs out, as google-auth's id_token flows get one:
 *   - service_account: the jwt-bearer grant with target_audience = audience in the
 *     assertion (no scope); the answer's id_token;
 *   - authorized_user: the refresh grant's id_token (a user's, audience its client);
 *   - external_account or impersonated_service_account with
 *     service_account_impersonation_url: IAM Credentials' generateIdToken
 *     {"audience", "includeEmail": true} for that service account;
 *   - the metadata server: instance/service-accounts/default/identity
 *     ?audience=AUD&format=full.
 * -ML_ENOTFOUND (err says why) when the credential cannot mint one:
 * CLOUDSDK_AUTH_ACCESS_TOKEN, workload identity federation without impersonation.
 * Other failures as ml_gauth_token's. */
int ml_gauth_id_token(struct ml_gauth *g, const char *audience, char **token,
		      struct ml_error *err);

/* Forgets the cached token (the API answered 401 with it). */
void ml_gauth_invalidate(struct ml_gauth *g);
/* The REST client's unauthorized hook (deploy/rest.h), ud = struct ml_gauth *: a
 * Google API answered 401 with the cached token (revoked, or expired early):
 * forgets it and returns 1, so that the request goes once more with a new one; 0
 * for CLOUDSDK_AUTH_ACCESS_TOKEN (there is no other token to get). */
int ml_gauth_unauthorized(void *ud, const struct ml_http_response *resp);

/* Where the credential comes from, for -v: "CLOUDSDK_AUTH_ACCESS_TOKEN",
 * "service account key /path (sa@p.iam.gserviceaccount.com)", "metadata server";
 * NULL before it is known. */
const char *ml_gauth_source(const struct ml_gauth *g);
/* The project the credential names (a key's project_id, quota_project_id; the
 * metadata server's once ml_gauth_lookup_project read it), or NULL. */
const char *ml_gauth_project(const struct ml_gauth *g);
/* ml_gauth_project, and when the credential is the metadata server (nothing
 * configured, and it answers the probe) its project/project-id, read once, as
 * Google's libraries do; NULL when there is none. */
const char *ml_gauth_lookup_project(struct ml_gauth *g);

/* The REST client's sign hook (deploy/rest.h), ud = struct ml_gauth *: adds
 * "Authorization: Bearer TOKEN". */
int ml_gauth_sign(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		  struct ml_error *err);

#endif
