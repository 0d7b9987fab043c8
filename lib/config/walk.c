/* The walker over the tree: errors that name file:line:column, the dotted key and
 * a hint; "did you mean"; mappings; and the typed getters the schema (schema.c)
 * and the providers' sections (section.c) read values with. */
#include "config/config-internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define KEY_MAX 64			/* longest word "did you mean" compares */

int ml_cfg_verror_at(struct ml_error *err, const char *file, int line, int column,
		     const char *fmt, va_list ap)
{
	char msg[ML_ERROR_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return ml_error_set(err, ML_ECONFIG, "%s:%d:%d: %s", file, line, column, msg);
}

int ml_cfg_error_at(struct ml_error *err, const char *file, int line, int column,
		    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ml_cfg_verror_at(err, file, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

static const struct {
	const char *name;
	const char *hint;
} wants[] = {
	[W_STRING] = { "a string", "write a single value" },
	[W_INT] = { "an integer", "write a whole number such as 8080" },
	[W_BOOL] = { "true or false", "write true or false" },
	[W_NUMBER] = { "a number", "write a number such as 1 or 1.5" },
	[W_SEQ] = { "a sequence", "write a list such as [a, b], or one '- item' per line" },
	[W_MAP] = { "a mapping", "write 'key: value' pairs" },
	[W_CMD] = { "a string or a sequence of strings",
		    "write a list such as [\"gunicorn\", \"app:app\"], or one string run by /bin/sh -c" },
	[W_COPY] = { "'SRC:DST' or a mapping",
		     "write 'SRC:DST' such as 'app/:/app/', or {src: SRC, dst: DST}" },
	[W_LIST] = { "a string or a sequence of strings",
		     "write a list such as [a, b], or one string" },
};

int ml_cfg_werr(struct walker *w, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ml_cfg_verror_at(w->err, w->cfg->path, n->line, n->column, fmt, ap);
	va_end(ap);
	return rc;
}

/* s cut to QUOTE_MAX characters with control characters as '?', for messages;
 * valid until four more calls. */
void ml_cfg_shorten(char dst[QUOTE_BUF], const char *s)
{
	size_t i, o = 0, chars = 0;

	for (i = 0; s[i]; i++) {
		if (is_utf8_start(s[i]) && chars++ == QUOTE_MAX)
			break;
		dst[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	}
	if (s[i]) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

const char *ml_cfg_quote(struct walker *w, const char *s)
{
	char *dst = w->quoted[w->qslot++ % 4];

	ml_cfg_shorten(dst, s);
	return dst;
}

const char *ml_cfg_qpath(struct walker *w)
{
	return ml_cfg_quote(w, ml_buf_str(&w->path));
}

const char *ml_cfg_in_path(struct walker *w)
{
	ml_buf_reset(&w->where);
	if (w->path.len)
		ml_buf_printf(&w->where, " in '%s'", ml_cfg_qpath(w));
	return ml_buf_str(&w->where);
}

size_t ml_cfg_path_push(struct walker *w, const char *key)
{
	size_t old = w->path.len;

	if (old)
		ml_buf_addch(&w->path, '.');
	ml_buf_adds(&w->path, key);
	return old;
}

size_t ml_cfg_path_push_index(struct walker *w, size_t i)
{
	size_t old = w->path.len;

	ml_buf_printf(&w->path, "[%zu]", i);
	return old;
}

void ml_cfg_path_pop(struct walker *w, size_t old)
{
	ml_buf_truncate(&w->path, old);
}

struct ml_pos ml_cfg_pos_of(const struct walker *w, const struct ynode *n)
{
	struct ml_pos pos = { w->cfg->path, n->line, n->column };

	return pos;
}

int ml_cfg_is_null(const struct ynode *n)
{
	const char *t = n->text;

	return n->type == YN_SCALAR && n->plain && (!*t || !strcmp(t, "~") ||
		!strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL"));
}

const char *ml_cfg_describe(struct walker *w, const struct ynode *n)
{
	if (n->type == YN_SEQ)
		return "a sequence";
	if (n->type == YN_MAP)
		return "a mapping";
	if (ml_cfg_is_null(n))
		return "null";
	snprintf(w->desc, sizeof(w->desc), "'%s'", ml_cfg_quote(w, n->text));
	return w->desc;
}

int ml_cfg_type_err(struct walker *w, const struct ynode *n, enum want want)
{
	return ml_cfg_werr(w, n, "expected %s for '%s', got %s (%s)", wants[want].name,
			   ml_cfg_qpath(w), ml_cfg_describe(w, n), wants[want].hint);
}

/* A scalar whose text, after expansion, is not what was wanted. */
int ml_cfg_value_err(struct walker *w, const struct ynode *n, enum want want, const char *text)
{
	return ml_cfg_werr(w, n, "expected %s for '%s', got '%s' (%s)", wants[want].name,
			   ml_cfg_qpath(w), ml_cfg_quote(w, text), wants[want].hint);
}

/* ---- "did you mean" ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[KEY_MAX + 1], i, j, diag, up, best;

	if (la > KEY_MAX || lb > KEY_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			best = diag + (lower(a[i - 1]) != lower(b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The candidate nearest to word, if near enough to be a typo of it. */
const char *ml_cfg_closest(const char *word, const char *const *cands)
{
	size_t i, d, bestd = SIZE_MAX;
	const char *best = NULL;

	for (i = 0; cands[i]; i++) {
		d = edit_distance(word, cands[i]);
		if (d < bestd && d < strlen(cands[i])) {
			bestd = d;
			best = cands[i];
		}
	}
	if (best && (bestd <= 2 || bestd * 3 <= strlen(word)))
		return best;
	return NULL;
}

void ml_cfg_join(struct ml_buf *b, const char *const *words)
{
	size_t i;

	for (i = 0; words[i]; i++)
		ml_buf_printf(b, "%s%s", i ? ", " : "", words[i]);
}

int ml_cfg_str_in(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

int ml_cfg_unknown_key(struct walker *w, const struct ynode *k, const char *const *keys,
		       const char *here_provider)
{
	const char *near = ml_cfg_closest(k->text, keys);
	struct ml_buf list = ML_BUF_INIT;
	int rc;

	ml_cfg_elsewhere(&list, k->text, keys, here_provider);
	if (list.len)
		rc = ml_cfg_werr(w, k, "unknown key '%s'%s (it belongs %s; check its indentation)",
				 ml_cfg_quote(w, k->text), ml_cfg_in_path(w), ml_buf_str(&list));
	else if (near)
		rc = ml_cfg_werr(w, k, "unknown key '%s'%s (did you mean '%s'?)",
				 ml_cfg_quote(w, k->text), ml_cfg_in_path(w), near);
	else if (!keys[0])
		rc = ml_cfg_werr(w, k, "unknown key '%s'%s (no provider is known here)",
				 ml_cfg_quote(w, k->text), ml_cfg_in_path(w));
	else {
		ml_cfg_join(&list, keys);
		rc = ml_cfg_werr(w, k, "unknown key '%s'%s (valid keys: %s)",
				 ml_cfg_quote(w, k->text), ml_cfg_in_path(w), ml_buf_str(&list));
	}
	ml_buf_dispose(&list);
	return rc;
}

struct keyref {
	const struct ynode *key;
	size_t index;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key->text, y->key->text);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Reports the duplicate key that comes first in the file; sorting keeps large
 * env: mappings from costing n^2. */
static int check_duplicates(struct walker *w, const struct ynode *m)
{
	size_t i, n = m->n / 2, dup = SIZE_MAX;
	struct keyref *refs;
	const struct ynode *first = NULL, *second;

	if (n < 2)
		return 0;
	refs = ml_malloc(n * sizeof(*refs));
	for (i = 0; i < n; i++) {
		refs[i].key = m->kids[2 * i];
		refs[i].index = i;
	}
	qsort(refs, n, sizeof(*refs), keyref_cmp);
	/* equal keys sort in file order: refs[i] is a second occurrence when it
	 * equals refs[i - 1] but not refs[i - 2] */
	for (i = 1; i < n; i++) {
		if (strcmp(refs[i - 1].key->text, refs[i].key->text))
			continue;
		if (i >= 2 && !strcmp(refs[i - 2].key->text, refs[i].key->text))
			continue;
		if (refs[i].index < dup) {
			dup = refs[i].index;
			first = refs[i - 1].key;
		}
	}
	free(refs);
	if (!first)
		return 0;
	second = m->kids[2 * dup];
	return ml_cfg_werr(w, second, "duplicate key '%s'%s (first given at line %d)",
			   ml_cfg_quote(w, second->text), ml_cfg_in_path(w), first->line);
}

/* Checks that m is a mapping with string keys, each one of keys (NULL: any), none
 * twice. */
int ml_cfg_check_map(struct walker *w, const struct ynode *m, const char *const *keys)
{
	const struct ynode *k;
	size_t i;

	if (m->type != YN_MAP)
		return ml_cfg_type_err(w, m, W_MAP);
	for (i = 0; i < m->n; i += 2) {
		k = m->kids[i];
		if (k->type != YN_SCALAR)
			return ml_cfg_werr(w, k, "keys must be strings%s, got %s",
					   ml_cfg_in_path(w), ml_cfg_describe(w, k));
		if (keys && !ml_cfg_str_in(k->text, keys))
			return ml_cfg_unknown_key(w, k, keys, NULL);
	}
	return check_duplicates(w, m);
}

/* m[key], NULL when absent; *k gets the key node. */
const struct ynode *ml_cfg_map_get(const struct ynode *m, const char *key, const struct ynode **k)
{
	size_t i;

	if (k)
		*k = NULL;
	for (i = 0; m && m->type == YN_MAP && i + 1 < m->n; i += 2) {
		if (m->kids[i]->type == YN_SCALAR && !strcmp(m->kids[i]->text, key)) {
			if (k)
				*k = m->kids[i];
			return m->kids[i + 1];
		}
	}
	return NULL;
}

/* Called with the path at the mapping; k is the key node when the key is there
 * with an empty value. */
int ml_cfg_missing(struct walker *w, const struct ynode *map, const struct ynode *k,
		   const char *key)
{
	const char *hint = w->hint ? w->hint : ml_cfg_required_hint(key);

	if (k)
		return ml_cfg_werr(w, k, "empty value for required key '%s'%s (%s)", key,
				   ml_cfg_in_path(w), hint);
	return ml_cfg_werr(w, map, "missing required key '%s'%s (%s)", key, ml_cfg_in_path(w),
			   hint);
}

/* ---- typed values ----
 * A key that is absent, null, or empty after expansion is left at its default;
 * a required one is an error. Quoted numbers and booleans are taken, so that
 * "${PORT}" works. */

int ml_cfg_get_str(struct walker *w, const struct ynode *map, const char *key, int flags,
		   str_check check, char **out, struct ml_pos *pos)
{
	const struct ynode *k, *v = ml_cfg_map_get(map, key, &k);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || ml_cfg_is_null(v))
		return (flags & REQUIRED) ? ml_cfg_missing(w, map, k, key) : 0;
	old = ml_cfg_path_push(w, key);
	rc = ml_cfg_scalar_text(w, v, W_STRING, &text);
	if (rc == 0 && *text && check)
		rc = check(w, v, text);
	ml_cfg_path_pop(w, old);
	if (rc == 0 && !*text && (flags & REQUIRED))
		rc = ml_cfg_missing(w, map, k, key);
	if (rc == 0 && *text) {
		free(*out);
		*out = text;
		text = NULL;
		if (pos)
			*pos = ml_cfg_pos_of(w, v);
	}
	free(text);
	return rc;
}

static int parse_long(const char *s, long *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	char *end;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	return *end || errno ? -1 : 0;
}

/* Takes the text of scalar v (not empty, the path at its key) into ud. */
typedef int (*scalar_fn)(struct walker *w, const struct ynode *v, const char *text, void *ud);

/* map[key] as a scalar of the kind want, parsed by parse unless it is absent,
 * null or empty. */
static int get_scalar(struct walker *w, const struct ynode *map, const char *key, enum want want,
		      scalar_fn parse, void *ud)
{
	const struct ynode *v = ml_cfg_map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || ml_cfg_is_null(v))
		return 0;
	old = ml_cfg_path_push(w, key);
	rc = ml_cfg_scalar_text(w, v, want, &text);
	if (rc == 0 && *text)
		rc = parse(w, v, text, ud);
	ml_cfg_path_pop(w, old);
	free(text);
	return rc;
}

struct int_range {
	long min, max;
	int *out;
};

static int parse_int(struct walker *w, const struct ynode *v, const char *text, void *ud)
{
	const struct int_range *r = ud;
	long l = 0;

	if (parse_long(text, &l) < 0)
		return ml_cfg_value_err(w, v, W_INT, text);
	if (l < r->min || l > r->max)
		return r->max == INT_MAX ?
		       ml_cfg_werr(w, v, "value %ld for '%s' is out of range (%ld or more)", l,
				   ml_cfg_qpath(w), r->min) :
		       ml_cfg_werr(w, v, "value %ld for '%s' is out of range (%ld to %ld)", l,
				   ml_cfg_qpath(w), r->min, r->max);
	*r->out = (int)l;
	return 0;
}

int ml_cfg_get_int(struct walker *w, const struct ynode *map, const char *key, long min,
		   long max, int *out)
{
	struct int_range r = { min, max, out };

	return get_scalar(w, map, key, W_INT, parse_int, &r);
}

static int parse_bool(struct walker *w, const struct ynode *v, const char *text, void *ud)
{
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };
	static const char *const yaml11[] = {
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
		"y", "Y", "n", "N", NULL,
	};
	int *out = ud;

	if (ml_cfg_str_in(text, yes) || ml_cfg_str_in(text, no)) {
		*out = ml_cfg_str_in(text, yes);
		return 0;
	}
	if (ml_cfg_str_in(text, yaml11))
		return ml_cfg_werr(w, v, "expected true or false for '%s', got '%s' (yaml 1.1 "
				   "words such as yes, no, on and off are not booleans here; write "
				   "true or false)", ml_cfg_qpath(w), ml_cfg_quote(w, text));
	return ml_cfg_value_err(w, v, W_BOOL, text);
}

int ml_cfg_get_bool(struct walker *w, const struct ynode *map, const char *key, int *out)
{
	return get_scalar(w, map, key, W_BOOL, parse_bool, out);
}

static size_t skip_digits(const char *s)
{
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* A decimal number: [-+]?(d+(.d*)?|.d+)([eE][-+]?d+)?, no inf or nan. */
static int parse_number(const char *s, double *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	size_t whole = skip_digits(p), frac = 0;

	p += whole;
	if (*p == '.')
		frac = skip_digits(++p), p += frac;
	if (!whole && !frac)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p += 1 + (p[1] == '-' || p[1] == '+');
		if (!skip_digits(p))
			return -1;
		p += skip_digits(p);
	}
	if (*p)
		return -1;
	*out = strtod(s, NULL);
	return isfinite(*out) ? 0 : -1;
}

static int parse_positive(struct walker *w, const struct ynode *v, const char *text, void *ud)
{
	double d;

	if (parse_number(text, &d) < 0)
		return ml_cfg_value_err(w, v, W_NUMBER, text);
	if (!(d > 0))
		return ml_cfg_werr(w, v, "value %s for '%s' must be greater than 0",
				   ml_cfg_quote(w, text), ml_cfg_qpath(w));
	*(double *)ud = d;
	return 0;
}

int ml_cfg_get_positive(struct walker *w, const struct ynode *map, const char *key, double *out)
{
	return get_scalar(w, map, key, W_NUMBER, parse_positive, out);
}

static void strv_add(struct ml_strv *sv, char *s)
{
	sv->v = ml_realloc(sv->v, (sv->n + 1) * sizeof(*sv->v));
	sv->v[sv->n++] = s;
}

static int strv_items(struct walker *w, const struct ynode *seq, str_check check,
		      struct ml_strv *out)
{
	const struct ynode *item;
	char *text;
	size_t i, old;
	int rc = 0;

	for (i = 0; rc == 0 && i < seq->n; i++) {
		item = seq->kids[i];
		text = NULL;
		old = ml_cfg_path_push_index(w, i);
		if (ml_cfg_is_null(item))
			rc = ml_cfg_werr(w, item, "empty item in '%s' (remove it, or write \"\")",
					 ml_cfg_qpath(w));
		else
			rc = ml_cfg_scalar_text(w, item, W_STRING, &text);
		if (rc == 0 && check)
			rc = check(w, item, text);
		ml_cfg_path_pop(w, old);
		if (rc == 0)
			strv_add(out, text);
		else
			free(text);
	}
	return rc;
}

/* A sequence of strings; with W_CMD, one string s also does, as /bin/sh -c s; with
 * W_LIST, as the one item s. */
int ml_cfg_get_strv(struct walker *w, const struct ynode *map, const char *key, enum want want,
		    str_check check, struct ml_strv *out)
{
	const struct ynode *v = ml_cfg_map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || ml_cfg_is_null(v))
		return 0;
	old = ml_cfg_path_push(w, key);
	if (v->type == YN_SEQ) {
		rc = strv_items(w, v, check, out);
	} else if (v->type == YN_SCALAR && want == W_CMD) {
		rc = ml_cfg_scalar_text(w, v, want, &text);
		if (rc == 0 && *text) {
			strv_add(out, ml_strdup("/bin/sh"));
			strv_add(out, ml_strdup("-c"));
			strv_add(out, text);
			text = NULL;
		}
	} else if (v->type == YN_SCALAR && want == W_LIST) {
		rc = ml_cfg_scalar_text(w, v, want, &text);
		if (rc == 0 && check && *text)
			rc = check(w, v, text);
		if (rc == 0 && *text) {
			strv_add(out, text);
			text = NULL;
		}
	} else {
		rc = ml_cfg_type_err(w, v, want);
	}
	if (rc == 0 && (v->type == YN_SEQ || out->n)) {
		out->present = 1;
		out->pos = ml_cfg_pos_of(w, v);
	}
	ml_cfg_path_pop(w, old);
	free(text);
	return rc;
}

static void kv_add(struct ml_kv **arr, size_t *n, const char *key, char *value, struct ml_pos pos)
{
	*arr = ml_realloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[*n].key = ml_strdup(key);
	(*arr)[*n].value = value;
	(*arr)[*n].pos = pos;
	++*n;
}

/* One key: value of a string map; keys are checked with the path at the map. */
static int kv_entry(struct walker *w, const struct ynode *k, const struct ynode *v,
		    str_check key_check, str_check value_check, struct ml_kv **arr, size_t *n)
{
	char *text = NULL;
	size_t old;
	int rc;

	rc = key_check ? key_check(w, k, k->text) : 0;
	if (rc < 0)
		return rc;
	old = ml_cfg_path_push(w, k->text);
	if (ml_cfg_is_null(v))
		text = ml_strdup("");
	else
		rc = ml_cfg_scalar_text(w, v, W_STRING, &text);
	if (rc == 0 && value_check)
		rc = value_check(w, v, text);
	ml_cfg_path_pop(w, old);
	if (rc < 0) {
		free(text);
		return rc;
	}
	kv_add(arr, n, k->text, text, ml_cfg_pos_of(w, k));
	return 0;
}

int ml_cfg_get_kv(struct walker *w, const struct ynode *map, const char *key, str_check key_check,
		  str_check value_check, struct ml_kv **arr, size_t *n)
{
	const struct ynode *v = ml_cfg_map_get(map, key, NULL);
	size_t i, old;
	int rc;

	if (!v || ml_cfg_is_null(v))
		return 0;
	old = ml_cfg_path_push(w, key);
	rc = ml_cfg_check_map(w, v, NULL);
	for (i = 0; rc == 0 && i < v->n; i += 2)
		rc = kv_entry(w, v->kids[i], v->kids[i + 1], key_check, value_check, arr, n);
	ml_cfg_path_pop(w, old);
	return rc;
}

const struct ynode *ml_cfg_map_or_empty(const struct ynode *k, const struct ynode *v,
					struct ynode *empty)
{
	if (!ml_cfg_is_null(v))
		return v;
	memset(empty, 0, sizeof(*empty));
	empty->type = YN_MAP;
	empty->line = k->line;
	empty->column = k->column;
	return empty;
}

/* Walks parent[key] as a mapping of keys; null stands for an empty mapping. */
int ml_cfg_walk_section(struct walker *w, const struct ynode *parent, const char *key,
			const char *const *keys, section_fn walk)
{
	const struct ynode *k, *v = ml_cfg_map_get(parent, key, &k);
	struct ynode empty;
	size_t old;
	int rc;

	if (!v)
		return 0;
	v = ml_cfg_map_or_empty(k, v, &empty);
	old = ml_cfg_path_push(w, key);
	rc = ml_cfg_check_map(w, v, keys);
	if (rc == 0)
		rc = walk(w, v);
	ml_cfg_path_pop(w, old);
	return rc;
}
