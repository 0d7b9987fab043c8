/* One resolver for the base URL of every service mldeploy talks to, so that each
 * can be pointed elsewhere (private endpoints, tests) the same way:
 *   1. the environment variable MLDEPLOY_ENDPOINT_<SERVICE>;
 *   2. deploy.yaml's `endpoints: { <service>: URL }` (the name in lower case);
 *   3. the provider's default.
 * Services are named in upper case: RUN, APPENGINE, ARTIFACTREGISTRY, OAUTH2, STS,
 * IAMCREDENTIALS, ARM, DOCKER ... (letters, digits and '_'). */
#ifndef ML_ENDPOINT_H
#define ML_ENDPOINT_H

#include "config/config.h"
#include "util/error.h"

/* Sets *out (malloc'ed, without a trailing '/') to the base URL of service. cfg
 * may be NULL. A value that is not an http:// or https:// URL with a host is an
 * error naming where it came from: -ML_EUSAGE naming the variable, -ML_ECONFIG
 * with deploy.yaml's file:line:column. A chosen override is logged at
 * ML_LOG_INFO with its origin. *out is written only on success. */
int ml_endpoint(char **out, const struct ml_config *cfg, const char *service,
		const char *default_url, struct ml_error *err);

#endif
