#include "registry/reference.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "wrap/digest.h"

static int is_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9));
}

/* host: dot-separated labels of letters, digits and inner '-', or [IPv6];
 * then an optional :port of 1 to 65535. */
static int valid_host(const char *s)
{
	const char *p = s, *label;
	long port;
	char *end;

	if (*p == '[') {
		p = strchr(p, ']');
		if (!p || p == s + 1)
			return 0;
		p++;
	} else {
		for (;;) {
			label = p;
			while (isalnum((unsigned char)*p) || *p == '-')
				p++;
			if (p == label || *label == '-' || p[-1] == '-')
				return 0;
			if (*p != '.')
				break;
			p++;
		}
	}
	if (!*p)
		return 1;
	if (*p != ':' || !isdigit((unsigned char)p[1]))
		return 0;
	port = strtol(p + 1, &end, 10);
	return !*end && port > 0 && port <= 65535 && end - p <= 6;
}

/* path-component: [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)* */
static int valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (!n || (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0])))
		return 0;
	while (i < n) {
		if (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && !(i + 1 < n && s[i + 1] == '_')))
			i++;
		else if (s[i] == '_')
			i += 2;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return 0;
		if (i >= n || !(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
			return 0;
	}
	return 1;
}

static int valid_repository(const char *s)
{
	const char *p = s, *slash;

	for (;;) {
		slash = strchr(p, '/');
		if (!valid_component(p, slash ? (size_t)(slash - p) : strlen(p)))
			return 0;
		if (!slash)
			return strlen(s) <= 255;
		p = slash + 1;
	}
}

int ml_ref_valid_tag(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

int ml_ref_parse(struct ml_ref *ref, const char *s, int allow_tag, struct ml_error *err)
{
	char *copy = ml_strdup(s), *name = copy, *at, *colon, *slash;
	int rc = 0;

	memset(ref, 0, sizeof(*ref));
	at = strchr(name, '@');
	if (at) {
		*at = '\0';
		ref->digest = ml_strdup(at + 1);
	}
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		ref->tag = ml_strdup(colon + 1);
	}
	slash = strchr(name, '/');
	if (slash && is_host(name, (size_t)(slash - name))) {
		ref->host = ml_strndup(name, (size_t)(slash - name));
		name = slash + 1;
	} else {
		ref->host = ml_strdup("docker.io");
	}
	if (!strcmp(ref->host, "index.docker.io") || !strcmp(ref->host, "registry-1.docker.io")) {
		free(ref->host);
		ref->host = ml_strdup("docker.io");
	}
	ref->repository = !strcmp(ref->host, "docker.io") && !strchr(name, '/') ?
			  ml_asprintf("library/%s", name) : ml_strdup(name);
	if (!valid_host(ref->host))
		rc = ml_error_set(err, ML_ECONFIG, "invalid registry host '%s' in '%s'", ref->host, s);
	else if (!valid_repository(ref->repository))
		rc = ml_error_set(err, ML_ECONFIG, "invalid repository name '%s' in '%s' (hint: "
				  "lower-case letters, digits and . _ - separated by '/')", name, s);
	else if (ref->tag && !ml_ref_valid_tag(ref->tag))
		rc = ml_error_set(err, ML_ECONFIG, "invalid tag '%s' in '%s'", ref->tag, s);
	else if (ref->digest && !ml_digest_valid(ref->digest))
		rc = ml_error_set(err, ML_ECONFIG, "invalid digest '%s' in '%s' (hint: "
				  "sha256: followed by 64 lower-case hex digits)", ref->digest, s);
	else if (!allow_tag && (ref->tag || ref->digest))
		rc = ml_error_set(err, ML_ECONFIG, "'%s' must not carry a tag or digest "
				  "(hint: give the tag with --tag)", s);
	free(copy);
	if (rc < 0)
		ml_ref_dispose(ref);
	return rc;
}

void ml_ref_dispose(struct ml_ref *ref)
{
	free(ref->host);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

char *ml_ref_string(const struct ml_ref *ref)
{
	return ml_asprintf("%s/%s%s%s%s%s", ref->host, ref->repository, ref->tag ? ":" : "",
			   ref->tag ? ref->tag : "", ref->digest ? "@" : "",
			   ref->digest ? ref->digest : "");
}
