/* deploy.local: which engine, the published port and address, the restart policy
 * and extra environment. */
#include "local/local.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

const char *const ml_local_config_keys[] = { "engine", "port", "bind", "restart", "env", NULL };

static const char *const restart_policies[] = {
	"no", "always", "unless-stopped", "on-failure", NULL,
};

/* HOST:PORT, HOST a name, an IPv4 address or a bracketed IPv6 address. */
static int is_host_port(const char *v)
{
	const char *colon;
	size_t digits;
	long port;

	if (*v == '[') {
		colon = strchr(v, ']');
		if (!colon || colon == v + 1 || colon[1] != ':')
			return 0;
		colon++;
	} else {
		colon = strchr(v, ':');
		if (!colon || colon == v || strcspn(v, "/@[]") < (size_t)(colon - v))
			return 0;
	}
	digits = strspn(colon + 1, "0123456789");
	if (!digits || digits > 5 || colon[1 + digits])
		return 0;
	port = strtol(colon + 1, NULL, 10);
	return port >= 1 && port <= 65535;
}

static int check_engine(struct ml_config_section *s, const char *v)
{
	if (!v)
		return 0;
	if (!strncmp(v, "unix://", 7) && v[7] == '/' && v[8])
		return 0;
	if (!strncmp(v, "tcp://", 6) && is_host_port(v + 6))
		return 0;
	return ml_section_error(s, "engine", "invalid engine '%s' for '%s.engine' (a DOCKER_HOST "
				"url: unix:///PATH or tcp://HOST:PORT, e.g. "
				"'unix:///run/podman/podman.sock')", ml_section_quote(s, v),
				ml_section_path(s));
}

static int check_bind(struct ml_config_section *s, const char *v)
{
	unsigned char addr[16];

	if (!v || inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1)
		return 0;
	return ml_section_error(s, "bind", "invalid address '%s' for '%s.bind' (an IP address "
				"of this host, e.g. 127.0.0.1, or 0.0.0.0 for every interface)",
				ml_section_quote(s, v), ml_section_path(s));
}

int ml_local_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_local_conf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)err;
	c->pos = ml_section_pos(s, NULL);
	if ((rc = ml_section_keys(s, ml_local_config_keys)) < 0 ||
	    (rc = ml_section_str(s, "engine", 0, &c->engine)) < 0 ||
	    (rc = check_engine(s, c->engine)) < 0 ||
	    (rc = ml_section_int(s, "port", 0, 1, 65535, &c->port)) < 0 ||
	    (rc = ml_section_str(s, "bind", 0, &c->bind)) < 0 ||
	    (rc = check_bind(s, c->bind)) < 0 ||
	    (rc = ml_section_enum(s, "restart", 0, restart_policies, &c->restart)) < 0 ||
	    (rc = ml_section_kv(s, "env", ML_SECTION_ENV_NAMES, &c->env, &c->nenv)) < 0) {
		ml_local_config_free(c);
		return rc;
	}
	if (!c->bind)
		c->bind = ml_strdup("127.0.0.1");
	if (!c->restart)
		c->restart = ml_strdup("unless-stopped");
	*conf = c;
	return 0;
}

void ml_local_config_free(void *conf)
{
	struct ml_local_conf *c = conf;

	if (!c)
		return;
	free(c->engine);
	free(c->bind);
	free(c->restart);
	ml_kv_free(c->env, c->nenv);
	free(c);
}

ml_json *ml_local_config_json(const void *conf)
{
	const struct ml_local_conf *c = conf;
	ml_json *o = ml_json_object_new(), *env = ml_json_object_new();
	size_t i;

	if (c->engine)
		ml_json_set_str(o, "engine", c->engine);
	if (c->port)
		ml_json_set_int(o, "port", c->port);
	ml_json_set_str(o, "bind", c->bind);
	ml_json_set_str(o, "restart", c->restart);
	for (i = 0; i < c->nenv; i++)
		ml_json_set_str(env, c->env[i].key, c->env[i].value);
	ml_json_set(o, "env", env);
	return o;
}
