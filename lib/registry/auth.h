/* Registry authentication: challenges, credentials and where they came from. */
#ifndef ML_AUTH_H
#define ML_AUTH_H

#include "util/error.h"

/* One parsed WWW-Authenticate challenge (the first one in the header). */
struct ml_challenge {
	char *scheme;		/* "basic" or "bearer", lower-cased */
	char *realm;
	char *service;
	char *scope;
	char *error;		/* bearer error code ("insufficient_scope"), if any */
};

/* 0 on success, -ML_EPROTO when the header cannot be parsed. */
int ml_challenge_parse(struct ml_challenge *c, const char *header, struct ml_error *err);
void ml_challenge_dispose(struct ml_challenge *c);

struct ml_credential {
	char *username;
	char *secret;		/* wiped on dispose; never logged */
	char *source;		/* for -v: "environment (MLDEPLOY_REGISTRY_USERNAME)" */
};

/* Looks up credentials for a registry host. Returns 1 when found, 0 when there
 * are none (anonymous access), negative on error. */
typedef int (*ml_credential_fn)(const char *host, struct ml_credential *out,
				struct ml_error *err);

/* The built-in chain: the Docker config ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json: credHelpers, credsStore, auths, in Docker's order), then
 * MLDEPLOY_REGISTRY_USERNAME / MLDEPLOY_REGISTRY_PASSWORD. */
int ml_auth_credential(const char *host, struct ml_credential *out, struct ml_error *err);
void ml_credential_dispose(struct ml_credential *c);

#endif
