/* The AWS shared config and credentials files, as the AWS CLI reads them: ini
 * sections, "key = value" lines with keys in any case, '#' and ';' comments (on a
 * line of their own, or after white space at the end of a line), indented lines
 * that continue a nested value ("s3 =" then "  max_concurrent_requests = 20",
 * kept out of the profile), "[profile NAME]" and "[default]" in the config file,
 * "[NAME]" in the credentials file; a repeated section or key: the last value
 * wins. A malformed line is an error naming the file and line, never its text. */
#include "aws/awsauth-internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"

#define FILE_MAX (1u << 20)

static const char *trim(char *s, size_t *n)
{
	while (*n && isspace((unsigned char)*s)) {
		s++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

/* The text before an inline comment: '#' or ';' after white space. */
static size_t before_comment(const char *s, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if ((s[i] == '#' || s[i] == ';') && isspace((unsigned char)s[i - 1]))
			return i;
	return n;
}

static struct ml_aws_section *section_for(struct ml_aws_ini *ini, const char *name,
					  int is_profile, int line)
{
	size_t i;

	for (i = 0; i < ini->nsec; i++)
		if (ini->sec[i].is_profile == is_profile && !strcmp(ini->sec[i].name, name))
			return &ini->sec[i];
	ini->sec = ml_grow(ini->sec, &ini->alloc, ini->nsec + 1, sizeof(*ini->sec));
	memset(&ini->sec[ini->nsec], 0, sizeof(ini->sec[0]));
	ini->sec[ini->nsec].name = ml_strdup(name);
	ini->sec[ini->nsec].is_profile = is_profile;
	ini->sec[ini->nsec].line = line;
	return &ini->sec[ini->nsec++];
}

static void section_set(struct ml_aws_section *s, const char *key, size_t klen, const char *value,
			size_t vlen, int line)
{
	size_t i;
	char *k = ml_strndup(key, klen);

	for (i = 0; i < klen; i++)
		k[i] = (char)tolower((unsigned char)k[i]);
	for (i = 0; i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, k)) {
			free(k);
			ml_free_secret(s->kv[i].value);
			s->kv[i].value = ml_strndup(value, vlen);
			s->kv[i].line = line;
			return;
		}
	s->kv = ml_grow(s->kv, &s->alloc, s->nkv + 1, sizeof(*s->kv));
	s->kv[s->nkv].key = k;
	s->kv[s->nkv].value = ml_strndup(value, vlen);
	s->kv[s->nkv++].line = line;
}

/* "[profile dev]" -> dev in the config file; the credentials file's names are
 * taken as they are. 0 for a malformed header. */
static int section_line(struct ml_aws_ini *ini, char *s, size_t n, int config_file, int line,
			struct ml_aws_section **cur)
{
	const char *name;
	char *copy;
	int is_profile = 1;

	n = before_comment(s, n);
	name = trim(s, &n);
	if (n < 2 || name[n - 1] != ']')
		return 0;
	name++;
	n -= 2;
	name = trim((char *)name, &n);
	if (!n)
		return 0;
	if (config_file) {
		if (n > 8 && !strncmp(name, "profile", 7) && isspace((unsigned char)name[7])) {
			name += 8;
			n -= 8;
			name = trim((char *)name, &n);
		} else if (!(n == 7 && !strncmp(name, "default", 7))) {
			is_profile = 0;	/* [sso-session x], [services x]; a bare [dev] too */
		}
	}
	copy = ml_strndup(name, n);
	*cur = section_for(ini, copy, is_profile, line);
	free(copy);
	return 1;
}

int ml_aws_ini_parse(struct ml_aws_ini *ini, const char *path, const char *text, size_t len,
		     int config_file, struct ml_error *err)
{
	struct ml_aws_section *cur = NULL;
	size_t i = 0;
	int line = 0, nested = 0;

	memset(ini, 0, sizeof(*ini));
	ini->path = ml_strdup(path);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len) {
		size_t end = i, n, eq;
		char *s;
		const char *key, *value;
		size_t klen, vlen;

		while (end < len && text[end] != '\n')
			end++;
		line++;
		s = (char *)text + i;
		n = end - i;
		i = end + 1;
		if (n && s[n - 1] == '\r')
			n--;
		if (memchr(s, 0, n))
			return ml_error_set(err, ML_EAUTH, "%s:%d: a NUL byte (hint: a text file is "
					    "expected)", path, line);
		klen = n;
		key = trim(s, &klen);
		if (!klen || *key == '#' || *key == ';')
			continue;
		if (*key == '[') {
			nested = 0;
			if (!section_line(ini, (char *)key, klen, config_file, line, &cur))
				return ml_error_set(err, ML_EAUTH, "%s:%d: malformed section header "
						    "(hint: [profile NAME] in the config file, "
						    "[NAME] in the credentials file)", path, line);
			continue;
		}
		if (!cur)
			return ml_error_set(err, ML_EAUTH, "%s:%d: a setting before any [section]",
					    path, line);
		/* an indented line continues a nested value ("s3 =") */
		if (isspace((unsigned char)*s) && nested)
			continue;
		for (eq = 0; eq < klen && key[eq] != '=' && key[eq] != ':'; eq++)
			;
		if (eq >= klen)
			return ml_error_set(err, ML_EAUTH, "%s:%d: not a section, a 'key = value' "
					    "line or a comment", path, line);
		vlen = klen - eq - 1;
		value = key + eq + 1;
		vlen = before_comment(value, vlen);
		value = trim((char *)value, &vlen);
		klen = eq;
		key = trim((char *)key, &klen);
		if (!klen)
			return ml_error_set(err, ML_EAUTH, "%s:%d: a value without a key", path, line);
		nested = vlen == 0;
		section_set(cur, key, klen, value, vlen, line);
	}
	return 0;
}

void ml_aws_ini_dispose(struct ml_aws_ini *ini)
{
	size_t i, j;

	for (i = 0; i < ini->nsec; i++) {
		for (j = 0; j < ini->sec[i].nkv; j++) {
			free(ini->sec[i].kv[j].key);
			ml_free_secret(ini->sec[i].kv[j].value);
		}
		free(ini->sec[i].kv);
		free(ini->sec[i].name);
	}
	free(ini->sec);
	free(ini->path);
	memset(ini, 0, sizeof(*ini));
}

const struct ml_aws_section *ml_aws_ini_section(const struct ml_aws_ini *ini, const char *name)
{
	size_t i;

	for (i = 0; i < ini->nsec; i++)
		if (ini->sec[i].is_profile && !strcmp(ini->sec[i].name, name))
			return &ini->sec[i];
	return NULL;
}

const char *ml_aws_section_get(const struct ml_aws_section *s, const char *key)
{
	size_t i;

	for (i = 0; s && i < s->nkv; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].value;
	return NULL;
}

/* "~/x" with $HOME; a path as given otherwise. */
static char *expand_home(const char *path)
{
	const char *home = getenv("HOME");

	if (path[0] == '~' && (path[1] == '/' || !path[1]) && home && *home)
		return ml_asprintf("%s%s", home, path + 1);
	return ml_strdup(path);
}

/* 1 read, 0 missing, negative on error. */
static int load_one(struct ml_aws_ini *ini, const char *var, const char *dflt, int config_file,
		    struct ml_error *err)
{
	const char *given = ml_aws_env(var);
	char *path = expand_home(given ? given : dflt);
	struct ml_buf b = ML_BUF_INIT;
	int rc;

	ml_buf_init(&b, FILE_MAX + 1);
	rc = ml_read_file(path, FILE_MAX, &b, err);
	if (rc == -ML_ENOTFOUND) {
		if (given)
			ml_log(ML_LOG_INFO, "aws: %s '%s' does not exist", var, given);
		rc = 0;
		ini->path = ml_strdup(given ? given : dflt);
	} else if (rc == 0) {
		rc = ml_aws_ini_parse(ini, given ? given : dflt, ml_buf_str(&b), b.len, config_file,
				      err);
		if (rc == 0)
			rc = 1;
	} else {
		ml_error_prefix(err, "aws %s file", config_file ? "config" : "credentials");
	}
	ml_wipe(b.data, b.len);
	ml_buf_dispose(&b);
	free(path);
	return rc;
}

int ml_aws_profiles_load(struct ml_aws_profiles **out, struct ml_error *err)
{
	struct ml_aws_profiles *p = ml_calloc(1, sizeof(*p));
	const char *name = ml_aws_env("AWS_PROFILE");
	int rc1, rc2 = 0;

	if (!name)
		name = ml_aws_env("AWS_DEFAULT_PROFILE");
	p->explicit_name = name != NULL;
	p->name = ml_strdup(name ? name : "default");
	rc1 = load_one(&p->config, "AWS_CONFIG_FILE", "~/.aws/config", 1, err);
	if (rc1 >= 0)
		rc2 = load_one(&p->credentials, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
			       0, err);
	if (rc1 < 0 || rc2 < 0) {
		ml_aws_profiles_free(p);
		return rc1 < 0 ? rc1 : rc2;
	}
	*out = p;
	return 0;
}

void ml_aws_profiles_free(struct ml_aws_profiles *p)
{
	if (!p)
		return;
	ml_aws_ini_dispose(&p->config);
	ml_aws_ini_dispose(&p->credentials);
	free(p->name);
	free(p);
}

const char *ml_aws_profile_get(const struct ml_aws_profiles *p, const char *profile,
			       const char *key, const char **file)
{
	const char *v = NULL;

	if (!p)
		return NULL;
	v = ml_aws_section_get(ml_aws_ini_section(&p->credentials, profile), key);
	if (v && *v) {
		if (file)
			*file = p->credentials.path;
		return v;
	}
	v = ml_aws_section_get(ml_aws_ini_section(&p->config, profile), key);
	if (v && *v) {
		if (file)
			*file = p->config.path;
		return v;
	}
	return NULL;
}

int ml_aws_profile_exists(const struct ml_aws_profiles *p, const char *profile)
{
	return p && (ml_aws_ini_section(&p->credentials, profile) ||
		     ml_aws_ini_section(&p->config, profile));
}
