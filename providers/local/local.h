/* The local container engine: Docker, or Podman's `podman system service`,
 * through the Docker Engine API. */
#ifndef ML_PROVIDER_LOCAL_H
#define ML_PROVIDER_LOCAL_H

#include <stddef.h>

#include "provider.h"

/* deploy.local */
struct ml_local_conf {
	char *engine;		/* DOCKER_HOST-style URL: unix:///path or tcp://host:port;
				   NULL: $DOCKER_HOST, else unix:///var/run/docker.sock */
	int port;		/* host port to publish; 0: image.port (validated 1..65535) */
	char *bind;		/* host address, default "127.0.0.1" */
	char *restart;		/* no|always|unless-stopped|on-failure, default "unless-stopped" */
	struct ml_kv *env;	/* extra environment for this provider */
	size_t nenv;
	struct ml_pos pos;
};

extern const struct ml_provider ml_provider_local;
extern const char *const ml_local_config_keys[];
int ml_local_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_local_config_free(void *conf);
ml_json *ml_local_config_json(const void *conf);

#endif
