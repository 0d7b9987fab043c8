/* deploy.yaml -> struct ml_config.
 *
 * libyaml's event API feeds a small tree of our own (struct ynode) rather than
 * libyaml's document: anchors, aliases, tags and nesting depth are then refused
 * where they appear, with their marks, and the tree is never a graph. The tree is
 * walked against the schema of mldeploy.yaml(5), one function per mapping; every
 * error names file:line:column, the dotted key and a hint. */
#include "config/config.h"
#include "config/section.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/redact.h"
#include "registry/reference.h"

#define CONFIG_MAX_SIZE (4u << 20)	/* a deploy.yaml is a few hundred bytes */
#define CONFIG_MAX_DEPTH 64		/* the schema needs 4 levels */
#define EXPAND_MAX_DEPTH 16		/* ${A:-${B:-...}} */
#define VALUE_MAX (1u << 20)		/* one value after expansion */
#define QUOTE_MAX 80			/* characters of a value shown in a message */
#define KEY_MAX 64			/* longest word "did you mean" compares */

#define REQUIRED 1

/* ---- the tree ---- */

enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_type type;
	int line, column;	/* 1-based */
	char *text;		/* scalar as written, before ${} expansion */
	int plain;		/* unquoted and untagged: null, booleans and numbers apply */
	struct ynode **kids;	/* sequence items; mapping keys and values, alternating */
	size_t n, alloc;
};

struct loader {
	yaml_parser_t parser;
	const char *file;
	const char *data;
	size_t len;
	struct ml_error *err;
};

static void ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static struct ynode *ynode_new(enum ynode_type type, const yaml_mark_t *m)
{
	struct ynode *n = ml_calloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)m->line + 1;
	n->column = (int)m->column + 1;
	return n;
}

static void ynode_add(struct ynode *n, struct ynode *kid)
{
	n->kids = ml_grow(n->kids, &n->alloc, n->n + 1, sizeof(*n->kids));
	n->kids[n->n++] = kid;
}

__attribute__((format(printf, 5, 0)))
static int verror_at(struct ml_error *err, const char *file, int line, int column,
		     const char *fmt, va_list ap)
{
	char msg[ML_ERROR_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return ml_error_set(err, ML_ECONFIG, "%s:%d:%d: %s", file, line, column, msg);
}

__attribute__((format(printf, 5, 6)))
static int error_at(struct ml_error *err, const char *file, int line, int column,
		    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror_at(err, file, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4)))
static int lerr(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror_at(ld->err, ld->file, (int)m->line + 1, (int)m->column + 1, fmt, ap);
	va_end(ap);
	return rc;
}

static int is_utf8_start(char c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

/* Line and column (1-based, in characters) of a byte offset, for reader errors,
 * which libyaml reports by offset only. */
static void offset_pos(const struct loader *ld, size_t off, int *line, int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < off && i < ld->len; i++) {
		if (ld->data[i] == '\n') {
			++*line;
			*column = 1;
		} else if (is_utf8_start(ld->data[i])) {
			++*column;
		}
	}
}

/* The byte at a libyaml mark, or -1. */
static int char_at(const struct loader *ld, const yaml_mark_t *m)
{
	size_t i, line = 0, column = 0;

	for (i = 0; i < ld->len; i++) {
		if (!is_utf8_start(ld->data[i]))
			continue;
		if (line == m->line && column == m->column)
			return (unsigned char)ld->data[i];
		if (ld->data[i] == '\n') {
			line++;
			column = 0;
		} else {
			column++;
		}
	}
	return -1;
}

static int reader_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	int line, column;

	offset_pos(ld, p->problem_offset, &line, &column);
	if (p->problem_value != -1)
		return error_at(ld->err, ld->file, line, column,
				"%s (byte 0x%02x; the file must be utf-8 text)", p->problem,
				(unsigned)p->problem_value & 0xff);
	return error_at(ld->err, ld->file, line, column, "%s (the file must be utf-8 text)",
			p->problem);
}

/* libyaml's own message, with the context it gives ("while parsing a block
 * mapping") and the one mistake it explains worst: tabs. */
static int syntax_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	const yaml_mark_t *m = &p->problem_mark, *cm = &p->context_mark;

	if (char_at(ld, m) == '\t')
		return lerr(ld, m, "%s (a tab: yaml indents with spaces only)", p->problem);
	if (!p->context)
		return lerr(ld, m, "%s", p->problem);
	if (cm->line == m->line && cm->column == m->column)
		return lerr(ld, m, "%s (%s)", p->problem, p->context);
	return lerr(ld, m, "%s (%s at line %zu, column %zu)", p->problem, p->context,
		    cm->line + 1, cm->column + 1);
}

static int parser_error(struct loader *ld)
{
	switch (ld->parser.error) {
	case YAML_MEMORY_ERROR:
		return ml_error_set(ld->err, ML_EINTERNAL, "%s: out of memory in libyaml", ld->file);
	case YAML_READER_ERROR:
		return reader_error(ld);
	default:
		if (!ld->parser.problem)
			return error_at(ld->err, ld->file, 1, 1, "libyaml failed without a reason");
		return syntax_error(ld);
	}
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev))
		return parser_error(ld);
	return 0;
}

enum { TAG_NONE, TAG_STR, TAG_BAD };

/* Core-schema tags change nothing but !!str, which makes a scalar a string. */
static int tag_kind(const yaml_char_t *utag)
{
	static const char *const plain[] = {
		YAML_NULL_TAG, YAML_BOOL_TAG, YAML_INT_TAG, YAML_FLOAT_TAG,
		YAML_SEQ_TAG, YAML_MAP_TAG, NULL,
	};
	const char *tag = (const char *)utag;
	size_t i;

	if (!tag)
		return TAG_NONE;
	if (!strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG))
		return TAG_STR;
	for (i = 0; plain[i]; i++)
		if (!strcmp(tag, plain[i]))
			return TAG_NONE;
	return TAG_BAD;
}

static int refuse_anchor(struct loader *ld, const yaml_mark_t *m, const yaml_char_t *anchor)
{
	return lerr(ld, m, "anchors are not supported ('&%.40s'); write the value out in full",
		    (const char *)anchor);
}

static int refuse_tag(struct loader *ld, const yaml_mark_t *m, const yaml_char_t *tag)
{
	return lerr(ld, m, "unsupported tag '%.60s' (mldeploy reads plain values; remove the tag)",
		    (const char *)tag);
}

static int build_scalar(struct loader *ld, const yaml_event_t *ev, struct ynode **out)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int kind = tag_kind(ev->data.scalar.tag);
	struct ynode *n;

	if (ev->data.scalar.anchor)
		return refuse_anchor(ld, &ev->start_mark, ev->data.scalar.anchor);
	if (kind == TAG_BAD)
		return refuse_tag(ld, &ev->start_mark, ev->data.scalar.tag);
	if (memchr(value, '\0', len))
		return lerr(ld, &ev->start_mark, "a value contains a NUL character");
	n = ynode_new(YN_SCALAR, &ev->start_mark);
	n->text = ml_strndup(value, len);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && kind == TAG_NONE;
	*out = n;
	return 0;
}

static int build_node(struct loader *ld, const yaml_event_t *ev, int depth, struct ynode **out);

static int build_collection(struct loader *ld, const yaml_event_t *ev, int depth,
			    struct ynode **out)
{
	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor :
				    ev->data.sequence_start.anchor;
	const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct ynode *n, *kid;
	yaml_event_t kev;
	int rc;

	if (anchor)
		return refuse_anchor(ld, &ev->start_mark, anchor);
	if (tag_kind(tag) == TAG_BAD)
		return refuse_tag(ld, &ev->start_mark, tag);
	if (depth >= CONFIG_MAX_DEPTH)
		return lerr(ld, &ev->start_mark, "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
	n = ynode_new(is_map ? YN_MAP : YN_SEQ, &ev->start_mark);
	for (;;) {
		rc = next_event(ld, &kev);
		if (rc < 0)
			goto out;
		if (kev.type == end) {
			yaml_event_delete(&kev);
			break;
		}
		kid = NULL;
		rc = build_node(ld, &kev, depth + 1, &kid);
		yaml_event_delete(&kev);
		if (rc < 0)
			goto out;
		ynode_add(n, kid);
	}
	*out = n;
	n = NULL;
out:
	ynode_free(n);
	return rc;
}

static int build_node(struct loader *ld, const yaml_event_t *ev, int depth, struct ynode **out)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return build_scalar(ld, ev, out);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return build_collection(ld, ev, depth, out);
	case YAML_ALIAS_EVENT:
		return lerr(ld, &ev->start_mark,
			    "aliases are not supported ('*%.40s'); write the value out in full",
			    (const char *)ev->data.alias.anchor);
	default:
		return lerr(ld, &ev->start_mark, "unexpected yaml event %d", (int)ev->type);
	}
}

/* Reads the next event and checks its type, for the stream's fixed frame. */
static int frame_event(struct loader *ld, yaml_event_type_t type, yaml_event_t *ev)
{
	int rc = next_event(ld, ev);

	if (rc == 0 && ev->type != type) {
		rc = lerr(ld, &ev->start_mark, "unexpected yaml event %d", (int)ev->type);
		yaml_event_delete(ev);
	}
	return rc;
}

/* The one document of the stream; *root stays NULL for an empty stream. */
static int load_document(struct loader *ld, struct ynode **root)
{
	yaml_event_t ev;
	int rc;

	rc = frame_event(ld, YAML_STREAM_START_EVENT, &ev);
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = next_event(ld, &ev);
	if (rc < 0 || ev.type == YAML_STREAM_END_EVENT)
		goto out;
	yaml_event_delete(&ev);
	rc = next_event(ld, &ev);	/* the root node, after DOCUMENT-START */
	if (rc < 0)
		return rc;
	rc = build_node(ld, &ev, 0, root);
	yaml_event_delete(&ev);
	if (rc < 0)
		return rc;
	rc = frame_event(ld, YAML_DOCUMENT_END_EVENT, &ev);
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = next_event(ld, &ev);
	if (rc == 0 && ev.type != YAML_STREAM_END_EVENT)
		rc = lerr(ld, &ev.start_mark, "a second yaml document starts here "
			  "(the file holds one document; remove the '---')");
out:
	if (rc == 0)
		yaml_event_delete(&ev);
	return rc;
}

static int load_tree(const char *file, const struct ml_buf *data, struct ynode **root,
		     struct ml_error *err)
{
	struct loader ld = { .file = file, .data = ml_buf_str(data), .len = data->len, .err = err };
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&ld.parser))
		return ml_error_set(err, ML_EINTERNAL, "%s: cannot initialize libyaml", file);
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)ld.data, ld.len);
	rc = load_document(&ld, root);
	yaml_parser_delete(&ld.parser);
	if (rc < 0) {
		ynode_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- walking the tree ---- */

struct walker {
	struct ml_config *cfg;
	struct ml_error *err;
	struct ml_buf path;		/* dotted path of the value at hand: "image.copy[2].src" */
	struct ml_buf where;		/* scratch for " in 'PATH'" */
	char quoted[4][QUOTE_MAX * 4 + 8];	/* ring of values shortened for messages */
	char desc[QUOTE_MAX * 4 + 16];	/* scratch for describe() */
	unsigned qslot;
	const char *hint;		/* a provider's hint for a missing required key */
};

/* What a value was expected to be, and how to write one. */
enum want { W_STRING, W_INT, W_BOOL, W_NUMBER, W_SEQ, W_MAP, W_CMD, W_COPY, W_LIST };

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

__attribute__((format(printf, 3, 4)))
static int werr(struct walker *w, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror_at(w->err, w->cfg->path, n->line, n->column, fmt, ap);
	va_end(ap);
	return rc;
}

/* s cut to QUOTE_MAX characters with control characters as '?', for messages;
 * valid until four more calls. */
static const char *q(struct walker *w, const char *s)
{
	char *dst = w->quoted[w->qslot++ % 4];
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
	return dst;
}

static const char *qpath(struct walker *w)
{
	return q(w, ml_buf_str(&w->path));
}

static const char *in_path(struct walker *w)
{
	ml_buf_reset(&w->where);
	if (w->path.len)
		ml_buf_printf(&w->where, " in '%s'", qpath(w));
	return ml_buf_str(&w->where);
}

static size_t path_push(struct walker *w, const char *key)
{
	size_t old = w->path.len;

	if (old)
		ml_buf_addch(&w->path, '.');
	ml_buf_adds(&w->path, key);
	return old;
}

static size_t path_push_index(struct walker *w, size_t i)
{
	size_t old = w->path.len;

	ml_buf_printf(&w->path, "[%zu]", i);
	return old;
}

static void path_pop(struct walker *w, size_t old)
{
	ml_buf_truncate(&w->path, old);
}

static struct ml_pos pos_of(const struct walker *w, const struct ynode *n)
{
	struct ml_pos pos = { w->cfg->path, n->line, n->column };

	return pos;
}

static int is_null(const struct ynode *n)
{
	const char *t = n->text;

	return n->type == YN_SCALAR && n->plain && (!*t || !strcmp(t, "~") ||
		!strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL"));
}

static const char *describe(struct walker *w, const struct ynode *n)
{
	if (n->type == YN_SEQ)
		return "a sequence";
	if (n->type == YN_MAP)
		return "a mapping";
	if (is_null(n))
		return "null";
	snprintf(w->desc, sizeof(w->desc), "'%s'", q(w, n->text));
	return w->desc;
}

static int type_err(struct walker *w, const struct ynode *n, enum want want)
{
	return werr(w, n, "expected %s for '%s', got %s (%s)", wants[want].name, qpath(w),
		    describe(w, n), wants[want].hint);
}

/* A scalar whose text, after expansion, is not what was wanted. */
static int value_err(struct walker *w, const struct ynode *n, enum want want, const char *text)
{
	return werr(w, n, "expected %s for '%s', got '%s' (%s)", wants[want].name, qpath(w),
		    q(w, text), wants[want].hint);
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
static const char *closest(const char *word, const char *const *cands)
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

static void join(struct ml_buf *b, const char *const *words)
{
	size_t i;

	for (i = 0; words[i]; i++)
		ml_buf_printf(b, "%s%s", i ? ", " : "", words[i]);
}

static int str_in(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

/* ---- the schema's keys ---- */

static const char *const root_keys[] = { "name", "image", "deploy", "health", "endpoints", NULL };
static const char *const image_keys[] = {
	"repository", "tags", "base", "platform", "workdir", "copy", "ignore", "allow_credentials",
	"env", "port", "cmd", "entrypoint", "user", "labels", "python", NULL,
};
static const char *const python_keys[] = {
	"requirements", "index", "extra_index", "find_links", "version", "site_packages",
	"platform_tags", NULL,
};
static const char *const copy_keys[] = { "src", "dst", "layer", NULL };
static const char *const health_keys[] = { "path", NULL };

/* Where each key belongs, to tell a key at the wrong indentation from a typo; the
 * entry without keys stands for deploy and the providers' sections. */
static const struct {
	const char *const *keys;
	const char *where;
} sections[] = {
	{ root_keys, "at the top level" },
	{ image_keys, "in 'image'" },
	{ copy_keys, "in an 'image.copy' entry" },
	{ python_keys, "in 'image.python'" },
	{ NULL, "in 'deploy'" },
	{ health_keys, "in 'health'" },
};

/* ---- the providers' sections (config/section.h) ---- */

static const struct ml_config_provider_hooks *provider_hooks;

void ml_config_set_provider_hooks(const struct ml_config_provider_hooks *h)
{
	provider_hooks = h;
}

/* The keys deploy may hold. */
static const char *const *provider_names(void)
{
	static const char *const none[] = { NULL };
	const char *const *names = provider_hooks && provider_hooks->names ?
				   provider_hooks->names() : NULL;

	return names ? names : none;
}

static const char *const *provider_keys(const char *name)
{
	if (!provider_hooks || !provider_hooks->keys)
		return NULL;
	return provider_hooks->keys(name);
}

/* ---- mappings ---- */

static void add_where(struct ml_buf *b, const char *where)
{
	ml_buf_printf(b, "%s%s", b->len ? " or " : "", where);
}

/* Appends where else key is valid: "in 'image' or in 'deploy.gcp'"; here_provider
 * names the provider section at hand, if any. */
static void elsewhere(struct ml_buf *b, const char *key, const char *const *here,
		      const char *here_provider)
{
	const char *const *names = provider_names(), *const *keys;
	size_t i, j;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (sections[i].keys) {
			if (sections[i].keys != here && str_in(key, sections[i].keys))
				add_where(b, sections[i].where);
			continue;
		}
		if (names != here && str_in(key, names))
			add_where(b, sections[i].where);
		for (j = 0; names[j]; j++) {
			keys = provider_keys(names[j]);
			if (keys && str_in(key, keys) &&
			    !(here_provider && !strcmp(here_provider, names[j])))
				ml_buf_printf(b, "%sin 'deploy.%s'", b->len ? " or " : "",
					      names[j]);
		}
	}
}

static int unknown_key(struct walker *w, const struct ynode *k, const char *const *keys,
		       const char *here_provider)
{
	const char *near = closest(k->text, keys);
	struct ml_buf list = ML_BUF_INIT;
	int rc;

	elsewhere(&list, k->text, keys, here_provider);
	if (list.len)
		rc = werr(w, k, "unknown key '%s'%s (it belongs %s; check its indentation)",
			  q(w, k->text), in_path(w), ml_buf_str(&list));
	else if (near)
		rc = werr(w, k, "unknown key '%s'%s (did you mean '%s'?)", q(w, k->text),
			  in_path(w), near);
	else if (!keys[0])
		rc = werr(w, k, "unknown key '%s'%s (no provider is known here)", q(w, k->text),
			  in_path(w));
	else {
		join(&list, keys);
		rc = werr(w, k, "unknown key '%s'%s (valid keys: %s)", q(w, k->text), in_path(w),
			  ml_buf_str(&list));
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
	return werr(w, second, "duplicate key '%s'%s (first given at line %d)", q(w, second->text),
		    in_path(w), first->line);
}

/* Checks that m is a mapping with string keys, each one of keys (NULL: any), none
 * twice. */
static int check_map(struct walker *w, const struct ynode *m, const char *const *keys)
{
	const struct ynode *k;
	size_t i;

	if (m->type != YN_MAP)
		return type_err(w, m, W_MAP);
	for (i = 0; i < m->n; i += 2) {
		k = m->kids[i];
		if (k->type != YN_SCALAR)
			return werr(w, k, "keys must be strings%s, got %s", in_path(w),
				    describe(w, k));
		if (keys && !str_in(k->text, keys))
			return unknown_key(w, k, keys, NULL);
	}
	return check_duplicates(w, m);
}

/* m[key], NULL when absent; *k gets the key node. */
static const struct ynode *map_get(const struct ynode *m, const char *key, const struct ynode **k)
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

static const char *required_hint(const char *key)
{
	static const char *const hints[][2] = {
		{ "name", "the service name, e.g. 'name: iris'" },
		{ "image", "it needs at least a base, e.g. 'image: {base: python:3.11-slim}'" },
		{ "base", "e.g. 'base: python:3.11-slim' or 'base: scratch'" },
		{ "src", "a file or directory of the context, e.g. 'src: app/'" },
		{ "dst", "an absolute path in the image, e.g. 'dst: /app/'" },
		{ "requirements", "a pinned requirements file of the context, e.g. "
				  "'requirements: requirements.txt' (pip freeze > requirements.txt)" },
	};
	size_t i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!strcmp(hints[i][0], key))
			return hints[i][1];
	return "it is required";
}

/* Called with the path at the mapping; k is the key node when the key is there
 * with an empty value. */
static int missing(struct walker *w, const struct ynode *map, const struct ynode *k,
		   const char *key)
{
	const char *hint = w->hint ? w->hint : required_hint(key);

	if (k)
		return werr(w, k, "empty value for required key '%s'%s (%s)", key, in_path(w),
			    hint);
	return werr(w, map, "missing required key '%s'%s (%s)", key, in_path(w), hint);
}

/* ---- ${VAR} expansion ---- */

struct expander {
	struct walker *w;
	const struct ynode *n;
	const char *p;
	struct ml_buf out;
};

static int is_name_start(char c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int expand_emit(struct expander *x, const char *s, size_t len, int skip)
{
	if (skip || ml_buf_add(&x->out, s, len) == 0)
		return 0;
	return werr(x->w, x->n, "the value of '%s' is longer than %u bytes after variable expansion",
		    qpath(x->w), VALUE_MAX);
}

static int expand_unterminated(struct expander *x)
{
	return werr(x->w, x->n, "unterminated '${' in the value '%s' of '%s' "
		    "(close it with '}', or write '$$' for a literal '$')", q(x->w, x->n->text),
		    qpath(x->w));
}

static int expand_invalid(struct expander *x)
{
	return werr(x->w, x->n, "invalid variable reference in the value '%s' of '%s' "
		    "(write ${NAME} or ${NAME:-default}, NAME made of letters, digits and '_'; "
		    "'$$' is a literal '$')", q(x->w, x->n->text), qpath(x->w));
}

static int expand_text(struct expander *x, int depth, int skip, int in_default);

/* x->p is at "${". */
static int expand_ref(struct expander *x, int depth, int skip)
{
	const char *name = x->p + 2, *val;
	char *var;
	int rc;

	x->p = name;
	while (is_name_char(*x->p))
		x->p++;
	if (!*x->p)
		return expand_unterminated(x);
	if (x->p == name || !is_name_start(*name) || (*x->p != '}' && strncmp(x->p, ":-", 2)))
		return expand_invalid(x);
	var = ml_strndup(name, (size_t)(x->p - name));
	val = getenv(var);
	if (*x->p == '}') {
		x->p++;
		if (val)
			rc = expand_emit(x, val, strlen(val), skip);
		else
			rc = skip ? 0 : werr(x->w, x->n, "variable '%s' used in '%s' is not set "
					     "(export it, or write '${%s:-default}')",
					     q(x->w, var), qpath(x->w), q(x->w, var));
	} else {
		x->p += 2;
		rc = val && *val ? expand_emit(x, val, strlen(val), skip) : 0;
		if (rc == 0)
			rc = expand_text(x, depth + 1, skip || (val && *val), 1);
		if (rc == 0)
			x->p++;		/* the '}' closing the default */
	}
	free(var);
	return rc;
}

/* Copies text to x->out up to the end, or up to the '}' closing a default. */
static int expand_text(struct expander *x, int depth, int skip, int in_default)
{
	const char *run;
	int rc;

	if (depth > EXPAND_MAX_DEPTH)
		return werr(x->w, x->n, "variable defaults nested deeper than %d levels in '%s'",
			    EXPAND_MAX_DEPTH, qpath(x->w));
	for (;;) {
		run = x->p;
		while (*x->p && *x->p != '$' && !(in_default && *x->p == '}'))
			x->p++;
		rc = expand_emit(x, run, (size_t)(x->p - run), skip);
		if (rc < 0)
			return rc;
		if (!*x->p)
			return in_default ? expand_unterminated(x) : 0;
		if (*x->p == '}')
			return 0;
		if (x->p[1] == '{') {
			rc = expand_ref(x, depth, skip);
		} else {
			rc = expand_emit(x, "$", 1, skip);
			x->p += x->p[1] == '$' ? 2 : 1;
		}
		if (rc < 0)
			return rc;
	}
}

/* The text of scalar n after ${} expansion. */
static int scalar_text(struct walker *w, const struct ynode *n, enum want want, char **out)
{
	struct expander x = { .w = w, .n = n, .p = n->text };
	int rc;

	if (n->type != YN_SCALAR)
		return type_err(w, n, want);
	ml_buf_init(&x.out, VALUE_MAX);
	rc = expand_text(&x, 0, 0, 0);
	if (rc < 0) {
		ml_buf_dispose(&x.out);
		return rc;
	}
	*out = ml_buf_detach(&x.out);
	return 0;
}

/* ---- typed values ----
 * A key that is absent, null, or empty after expansion is left at its default;
 * a required one is an error. Quoted numbers and booleans are taken, so that
 * "${PORT}" works. */

typedef int (*str_check)(struct walker *w, const struct ynode *n, const char *v);

static int get_str(struct walker *w, const struct ynode *map, const char *key, int flags,
		   str_check check, char **out, struct ml_pos *pos)
{
	const struct ynode *k, *v = map_get(map, key, &k);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || is_null(v))
		return (flags & REQUIRED) ? missing(w, map, k, key) : 0;
	old = path_push(w, key);
	rc = scalar_text(w, v, W_STRING, &text);
	if (rc == 0 && *text && check)
		rc = check(w, v, text);
	path_pop(w, old);
	if (rc == 0 && !*text && (flags & REQUIRED))
		rc = missing(w, map, k, key);
	if (rc == 0 && *text) {
		free(*out);
		*out = text;
		text = NULL;
		if (pos)
			*pos = pos_of(w, v);
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

static int get_int(struct walker *w, const struct ynode *map, const char *key, long min,
		   long max, int *out)
{
	const struct ynode *v = map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	long l = 0;
	int rc;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, key);
	rc = scalar_text(w, v, W_INT, &text);
	if (rc < 0 || !*text)
		goto out;
	if (parse_long(text, &l) < 0)
		rc = value_err(w, v, W_INT, text);
	else if (l < min || l > max)
		rc = max == INT_MAX ?
		     werr(w, v, "value %ld for '%s' is out of range (%ld or more)", l, qpath(w), min) :
		     werr(w, v, "value %ld for '%s' is out of range (%ld to %ld)", l, qpath(w), min, max);
	else
		*out = (int)l;
out:
	path_pop(w, old);
	free(text);
	return rc;
}

static int get_bool(struct walker *w, const struct ynode *map, const char *key, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };
	static const char *const yaml11[] = {
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
		"y", "Y", "n", "N", NULL,
	};
	const struct ynode *v = map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, key);
	rc = scalar_text(w, v, W_BOOL, &text);
	if (rc < 0 || !*text)
		goto out;
	if (str_in(text, yes) || str_in(text, no))
		*out = str_in(text, yes);
	else if (str_in(text, yaml11))
		rc = werr(w, v, "expected true or false for '%s', got '%s' (yaml 1.1 words such as "
			  "yes, no, on and off are not booleans here; write true or false)",
			  qpath(w), q(w, text));
	else
		rc = value_err(w, v, W_BOOL, text);
out:
	path_pop(w, old);
	free(text);
	return rc;
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

static int get_positive(struct walker *w, const struct ynode *map, const char *key, double *out)
{
	const struct ynode *v = map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	double d;
	int rc;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, key);
	rc = scalar_text(w, v, W_NUMBER, &text);
	if (rc < 0 || !*text)
		goto out;
	if (parse_number(text, &d) < 0)
		rc = value_err(w, v, W_NUMBER, text);
	else if (!(d > 0))
		rc = werr(w, v, "value %s for '%s' must be greater than 0", q(w, text), qpath(w));
	else
		*out = d;
out:
	path_pop(w, old);
	free(text);
	return rc;
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
		old = path_push_index(w, i);
		if (is_null(item))
			rc = werr(w, item, "empty item in '%s' (remove it, or write \"\")", qpath(w));
		else
			rc = scalar_text(w, item, W_STRING, &text);
		if (rc == 0 && check)
			rc = check(w, item, text);
		path_pop(w, old);
		if (rc == 0)
			strv_add(out, text);
		else
			free(text);
	}
	return rc;
}

/* A sequence of strings; with W_CMD, one string s also does, as /bin/sh -c s; with
 * W_LIST, as the one item s. */
static int get_strv(struct walker *w, const struct ynode *map, const char *key, enum want want,
		    str_check check, struct ml_strv *out)
{
	const struct ynode *v = map_get(map, key, NULL);
	char *text = NULL;
	size_t old;
	int rc;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, key);
	if (v->type == YN_SEQ) {
		rc = strv_items(w, v, check, out);
	} else if (v->type == YN_SCALAR && want == W_CMD) {
		rc = scalar_text(w, v, want, &text);
		if (rc == 0 && *text) {
			strv_add(out, ml_strdup("/bin/sh"));
			strv_add(out, ml_strdup("-c"));
			strv_add(out, text);
			text = NULL;
		}
	} else if (v->type == YN_SCALAR && want == W_LIST) {
		rc = scalar_text(w, v, want, &text);
		if (rc == 0 && check && *text)
			rc = check(w, v, text);
		if (rc == 0 && *text) {
			strv_add(out, text);
			text = NULL;
		}
	} else {
		rc = type_err(w, v, want);
	}
	if (rc == 0 && (v->type == YN_SEQ || out->n)) {
		out->present = 1;
		out->pos = pos_of(w, v);
	}
	path_pop(w, old);
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
	old = path_push(w, k->text);
	if (is_null(v))
		text = ml_strdup("");
	else
		rc = scalar_text(w, v, W_STRING, &text);
	if (rc == 0 && value_check)
		rc = value_check(w, v, text);
	path_pop(w, old);
	if (rc < 0) {
		free(text);
		return rc;
	}
	kv_add(arr, n, k->text, text, pos_of(w, k));
	return 0;
}

static int get_kv(struct walker *w, const struct ynode *map, const char *key, str_check key_check,
		  str_check value_check, struct ml_kv **arr, size_t *n)
{
	const struct ynode *v = map_get(map, key, NULL);
	size_t i, old;
	int rc;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, key);
	rc = check_map(w, v, NULL);
	for (i = 0; rc == 0 && i < v->n; i += 2)
		rc = kv_entry(w, v->kids[i], v->kids[i + 1], key_check, value_check, arr, n);
	path_pop(w, old);
	return rc;
}

/* ---- value checks ---- */

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int has_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

static int is_dns_label(const char *s)
{
	size_t i, len = strlen(s);

	if (!len || len > 63 || s[0] < 'a' || s[0] > 'z' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

static int check_name(struct walker *w, const struct ynode *n, const char *v)
{
	if (is_dns_label(v))
		return 0;
	return werr(w, n, "invalid value '%s' for '%s' (use lower-case letters, digits and '-', "
		    "starting with a letter and ending with a letter or digit, at most 63 characters)",
		    q(w, v), qpath(w));
}

static int check_repository(struct walker *w, const struct ynode *n, const char *v)
{
	struct ml_error e = { 0, "" };
	struct ml_ref ref;

	if (ml_ref_parse(&ref, v, 0, &e) == 0) {
		ml_ref_dispose(&ref);
		return 0;
	}
	return werr(w, n, "invalid repository for '%s': %s (expected [HOST[:PORT]/]PATH such as "
		    "'us-east1-docker.pkg.dev/my-proj/ml/iris')", qpath(w), e.msg);
}

static int check_oci_layout(struct walker *w, const struct ynode *n, const char *v)
{
	const char *rest = v + strlen("oci-layout:"), *colon = strrchr(rest, ':');

	if (colon && strchr(colon, '/'))
		colon = NULL;
	if (!*rest || colon == rest)
		return werr(w, n, "invalid base '%s' for '%s' (oci-layout: needs a directory, "
			    "e.g. 'oci-layout:base' or 'oci-layout:base:3.11')", q(w, v), qpath(w));
	if (colon && !ml_ref_valid_tag(colon + 1))
		return werr(w, n, "invalid tag '%s' in '%s' (letters, digits, '_', '.' and '-', "
			    "not starting with '.' or '-', at most 128 characters)", q(w, colon + 1),
			    qpath(w));
	return 0;
}

static int check_reference(struct walker *w, const struct ynode *n, const char *v)
{
	struct ml_error e = { 0, "" };
	struct ml_ref ref;

	if (ml_ref_parse(&ref, v, 1, &e) == 0) {
		ml_ref_dispose(&ref);
		return 0;
	}
	return werr(w, n, "invalid base for '%s': %s (expected scratch, oci-layout:DIR[:TAG], "
		    "docker-archive:FILE, or NAME[:TAG][@sha256:DIGEST] such as python:3.11-slim)",
		    qpath(w), e.msg);
}

static int check_base(struct walker *w, const struct ynode *n, const char *v)
{
	if (!strcmp(v, "scratch"))
		return 0;
	if (!strncmp(v, "oci-layout:", strlen("oci-layout:")))
		return check_oci_layout(w, n, v);
	if (!strncmp(v, "docker-archive:", strlen("docker-archive:"))) {
		if (v[strlen("docker-archive:")])
			return 0;
		return werr(w, n, "invalid base '%s' for '%s' (docker-archive: needs a file, e.g. "
			    "'docker-archive:base.tar')", q(w, v), qpath(w));
	}
	if (strstr(v, "://"))
		return werr(w, n, "invalid base '%s' for '%s' (write an image reference such as "
			    "python:3.11-slim, not a url)", q(w, v), qpath(w));
	return check_reference(w, n, v);
}

static int check_platform(struct walker *w, const struct ynode *n, const char *v)
{
	static const char *const aliases[][2] = {
		{ "x86_64", "amd64" }, { "x86-64", "amd64" }, { "aarch64", "arm64" },
		{ "armhf", "arm" }, { "armv7l", "arm" }, { "i386", "386" }, { "i686", "386" },
	};
	const char *slash = strchr(v, '/'), *arch = slash ? slash + 1 : "";
	size_t i, parts = 1, run = 0;

	for (i = 0; v[i]; i++) {
		if (v[i] == '/' && run) {
			parts++;
			run = 0;
		} else if (is_lower_alnum(v[i]) || v[i] == '_') {
			run++;
		} else {
			parts = 0;
			break;
		}
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strncmp(arch, aliases[i][0], strlen(aliases[i][0])) &&
		    (arch[strlen(aliases[i][0])] == '/' || !arch[strlen(aliases[i][0])]))
			return werr(w, n, "invalid platform '%s' for '%s' (architectures have their "
				    "Go names: write '%s' for '%s')", q(w, v), qpath(w),
				    aliases[i][1], aliases[i][0]);
	if (run && (parts == 2 || parts == 3))
		return 0;
	return werr(w, n, "invalid platform '%s' for '%s' (expected OS/ARCH[/VARIANT] in lower case, "
		    "e.g. 'linux/amd64' or 'linux/arm64/v8')", q(w, v), qpath(w));
}

static int has_dotdot(const char *s)
{
	const char *p = s;

	for (;;) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return 1;
		p = strchr(p, '/');
		if (!p)
			return 0;
		p++;
	}
}

static int check_workdir(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/')
		return 0;
	return werr(w, n, "invalid path '%s' for '%s' (an absolute path in the image, e.g. '/app')",
		    q(w, v), qpath(w));
}

static int check_src(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/' || (is_alnum(v[0]) && v[1] == ':'))
		return werr(w, n, "invalid path '%s' for '%s' (it must be relative to the context "
			    "directory, e.g. 'app/')", q(w, v), qpath(w));
	if (strchr(v, '\\'))
		return werr(w, n, "invalid path '%s' for '%s' (separate directories with '/')",
			    q(w, v), qpath(w));
	if (has_dotdot(v))
		return werr(w, n, "invalid path '%s' for '%s' (it must not contain '..': only files "
			    "inside the context directory are copied)", q(w, v), qpath(w));
	return 0;
}

static int check_dst(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] != '/')
		return werr(w, n, "invalid path '%s' for '%s' (an absolute path in the image, e.g. "
			    "'/app/')", q(w, v), qpath(w));
	if (has_dotdot(v))
		return werr(w, n, "invalid path '%s' for '%s' (it must not contain '..')", q(w, v),
			    qpath(w));
	return 0;
}

static int check_layer(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i] && i < 64; i++)
		if (!is_lower_alnum(v[i]) && (!i || (v[i] != '_' && v[i] != '-')))
			break;
	if (!v[i])
		return 0;
	return werr(w, n, "invalid layer name '%s' for '%s' (lower-case letters, digits, '_' and "
		    "'-', starting with a letter or digit, at most 64 characters)", q(w, v), qpath(w));
}

static int check_pattern(struct walker *w, const struct ynode *n, const char *v)
{
	if (*v)
		return 0;
	return werr(w, n, "empty pattern in '%s' (remove it)", qpath(w));
}

static int check_tag(struct walker *w, const struct ynode *n, const char *v)
{
	if (ml_ref_valid_tag(v))
		return 0;
	return werr(w, n, "invalid tag '%s' in '%s' (letters, digits, '_', '.' and '-', at most "
		    "128, not starting with '.' or '-')", q(w, v), qpath(w));
}

static int check_env_key(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i] && is_name_char(v[i]); i++)
		;
	if (!v[i] && is_name_start(v[0]))
		return 0;
	return werr(w, n, "invalid variable name '%s'%s (letters, digits and '_', not starting with "
		    "a digit)", q(w, v), in_path(w));
}

static int check_label_key(struct walker *w, const struct ynode *n, const char *v)
{
	if (*v && !has_space(v))
		return 0;
	return werr(w, n, "invalid label key '%s'%s (a non-empty name without spaces, e.g. "
		    "'org.opencontainers.image.source')", q(w, v), in_path(w));
}

static int check_endpoint_key(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; is_lower_alnum(v[i]) || (i && v[i] == '_'); i++)
		;
	if (!v[i] && v[0] >= 'a' && v[0] <= 'z')
		return 0;
	return werr(w, n, "invalid endpoint name '%s'%s (lower-case letters, digits and '_', e.g. "
		    "'cloudrun': the SERVICE of MLDEPLOY_ENDPOINT_SERVICE in lower case)", q(w, v),
		    in_path(w));
}

static int check_url(struct walker *w, const struct ynode *n, const char *v)
{
	const char *host = !strncmp(v, "http://", 7) ? v + 7 : !strncmp(v, "https://", 8) ? v + 8 : NULL;

	if (host && *host && *host != '/' && !has_space(v))
		return 0;
	return werr(w, n, "invalid url '%s' for '%s' (expected http://HOST[:PORT][/PATH] or "
		    "https://...)", q(w, v), qpath(w));
}

static int check_user(struct walker *w, const struct ynode *n, const char *v)
{
	if (!has_space(v))
		return 0;
	return werr(w, n, "invalid user '%s' for '%s' (a name or uid, optionally ':group', without "
		    "spaces, e.g. \"1000\" or \"app:app\")", q(w, v), qpath(w));
}

static int check_health_path(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/' && !has_space(v))
		return 0;
	return werr(w, n, "invalid path '%s' for '%s' (an http path starting with '/', e.g. "
		    "'/healthz')", q(w, v), qpath(w));
}

typedef int (*section_fn)(struct walker *w, const struct ynode *m);

/* Walks parent[key] as a mapping of keys; null stands for an empty mapping, so
 * that "gcp:" alone still reports what gcp needs. */
static int walk_section(struct walker *w, const struct ynode *parent, const char *key,
			const char *const *keys, section_fn walk)
{
	const struct ynode *k, *v = map_get(parent, key, &k);
	struct ynode empty;
	size_t old;
	int rc;

	if (!v)
		return 0;
	if (is_null(v)) {
		memset(&empty, 0, sizeof(empty));
		empty.type = YN_MAP;
		empty.line = k->line;
		empty.column = k->column;
		v = &empty;
	}
	old = path_push(w, key);
	rc = check_map(w, v, keys);
	if (rc == 0)
		rc = walk(w, v);
	path_pop(w, old);
	return rc;
}

static int copy_short(struct walker *w, const struct ynode *item, struct ml_copy *c)
{
	char *text = NULL, *colon;
	int rc;

	rc = scalar_text(w, item, W_COPY, &text);
	if (rc < 0)
		return rc;
	/* dst is absolute: split before the first ":/", so that src may hold ':' */
	colon = strstr(text, ":/");
	if (!colon)
		colon = strchr(text, ':');
	if (!colon || colon == text || !colon[1]) {
		rc = werr(w, item, "invalid copy entry '%s' for '%s' (write 'SRC:DST' such as "
			  "'app/:/app/', or {src: SRC, dst: DST})", q(w, text), qpath(w));
		goto out;
	}
	c->src = ml_strndup(text, (size_t)(colon - text));
	c->dst = ml_strdup(colon + 1);
	rc = check_src(w, item, c->src);
	if (rc == 0)
		rc = check_dst(w, item, c->dst);
out:
	free(text);
	return rc;
}

static int copy_long(struct walker *w, const struct ynode *item, struct ml_copy *c)
{
	int rc = check_map(w, item, copy_keys);

	if (rc == 0)
		rc = get_str(w, item, "src", REQUIRED, check_src, &c->src, NULL);
	if (rc == 0)
		rc = get_str(w, item, "dst", REQUIRED, check_dst, &c->dst, NULL);
	if (rc == 0)
		rc = get_str(w, item, "layer", 0, check_layer, &c->layer, NULL);
	return rc;
}

static int copy_entry(struct walker *w, const struct ynode *item, size_t i)
{
	struct ml_config *cfg = w->cfg;
	struct ml_copy *c;
	size_t old;
	int rc;

	cfg->image.copy = ml_realloc(cfg->image.copy, (cfg->image.ncopy + 1) * sizeof(*c));
	c = &cfg->image.copy[cfg->image.ncopy++];
	memset(c, 0, sizeof(*c));
	c->pos = pos_of(w, item);
	old = path_push_index(w, i);
	if (item->type == YN_SCALAR && !is_null(item))
		rc = copy_short(w, item, c);
	else if (item->type == YN_MAP)
		rc = copy_long(w, item, c);
	else
		rc = type_err(w, item, W_COPY);
	path_pop(w, old);
	return rc;
}

static int get_copy(struct walker *w, const struct ynode *image)
{
	const struct ynode *v = map_get(image, "copy", NULL);
	size_t i, old;
	int rc = 0;

	if (!v || is_null(v))
		return 0;
	old = path_push(w, "copy");
	if (v->type != YN_SEQ)
		rc = type_err(w, v, W_SEQ);
	for (i = 0; rc == 0 && i < v->n; i++)
		rc = copy_entry(w, v->kids[i], i);
	path_pop(w, old);
	return rc;
}

static int check_index_url(struct walker *w, const struct ynode *n, const char *v)
{
	if (!strncmp(v, "https://", 8) || !strncmp(v, "http://", 7))
		return 0;
	return werr(w, n, "invalid URL '%s' for '%s' (an http:// or https:// URL of a package "
		    "index's simple API, e.g. 'https://pypi.org/simple')", q(w, v), qpath(w));
}

static int check_py_version(struct walker *w, const struct ynode *n, const char *v)
{
	const char *p = v + 2;

	if (v[0] == '3' && v[1] == '.' && *p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (!*p && p - v <= 4)
			return 0;
	}
	return werr(w, n, "invalid Python version '%s' for '%s' (write major.minor, e.g. "
		    "\"3.11\", quoted so YAML keeps it a string)", q(w, v), qpath(w));
}

static int check_platform_tag(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!is_lower_alnum(v[i]) && v[i] != '_')
			break;
	if (!v[i] && i)
		return 0;
	return werr(w, n, "invalid platform tag '%s' for '%s' (a wheel platform tag such as "
		    "'manylinux_2_28_x86_64')", q(w, v), qpath(w));
}

static int walk_python(struct walker *w, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	int rc;

	cfg->image.python.present = 1;
	cfg->image.python.pos = pos_of(w, m);
	if ((rc = get_str(w, m, "requirements", REQUIRED, check_src, &cfg->image.python.requirements,
			  &cfg->image.python.requirements_pos)) < 0 ||
	    (rc = get_str(w, m, "index", 0, check_index_url, &cfg->image.python.index, NULL)) < 0 ||
	    (rc = get_strv(w, m, "extra_index", W_SEQ, check_index_url,
			   &cfg->image.python.extra_index)) < 0 ||
	    (rc = get_strv(w, m, "find_links", W_SEQ, check_src, &cfg->image.python.find_links)) < 0 ||
	    (rc = get_str(w, m, "version", 0, check_py_version, &cfg->image.python.version, NULL)) < 0 ||
	    (rc = get_str(w, m, "site_packages", 0, check_workdir, &cfg->image.python.site_packages,
			  NULL)) < 0)
		return rc;
	return get_strv(w, m, "platform_tags", W_SEQ, check_platform_tag,
			&cfg->image.python.platform_tags);
}

/* "python" names the layer image.python makes. */
static int check_layer_names(struct walker *w)
{
	const struct ml_config *cfg = w->cfg;
	size_t i;

	for (i = 0; cfg->image.python.present && i < cfg->image.ncopy; i++) {
		const struct ml_copy *c = &cfg->image.copy[i];

		if (c->layer && !strcmp(c->layer, "python"))
			return error_at(w->err, c->pos.file, c->pos.line, c->pos.column,
					"layer name 'python' of 'image.copy[%zu]' is the one image.python "
					"gives its dependencies (hint: choose another name)", i);
	}
	return 0;
}

static int walk_image(struct walker *w, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	int rc;

	if ((rc = get_str(w, m, "repository", 0, check_repository, &cfg->image.repository,
			  &cfg->image.repository_pos)) < 0 ||
	    (rc = get_str(w, m, "base", REQUIRED, check_base, &cfg->image.base,
			  &cfg->image.base_pos)) < 0 ||
	    (rc = get_str(w, m, "platform", 0, check_platform, &cfg->image.platform, NULL)) < 0 ||
	    (rc = get_str(w, m, "workdir", 0, check_workdir, &cfg->image.workdir, NULL)) < 0 ||
	    (rc = get_copy(w, m)) < 0 ||
	    (rc = get_strv(w, m, "ignore", W_SEQ, check_pattern, &cfg->image.ignore)) < 0 ||
	    (rc = get_strv(w, m, "allow_credentials", W_SEQ, check_pattern,
			   &cfg->image.allow_credentials)) < 0 ||
	    (rc = get_strv(w, m, "tags", W_SEQ, check_tag, &cfg->image.tags)) < 0 ||
	    (rc = get_kv(w, m, "env", check_env_key, NULL, &cfg->image.env, &cfg->image.nenv)) < 0 ||
	    (rc = get_int(w, m, "port", 1, 65535, &cfg->image.port)) < 0 ||
	    (rc = get_strv(w, m, "cmd", W_CMD, NULL, &cfg->image.cmd)) < 0 ||
	    (rc = get_strv(w, m, "entrypoint", W_CMD, NULL, &cfg->image.entrypoint)) < 0 ||
	    (rc = get_str(w, m, "user", 0, check_user, &cfg->image.user, NULL)) < 0 ||
	    (rc = walk_section(w, m, "python", python_keys, walk_python)) < 0 ||
	    (rc = check_layer_names(w)) < 0)
		return rc;
	return get_kv(w, m, "labels", check_label_key, NULL, &cfg->image.labels,
		      &cfg->image.nlabels);
}

/* ---- deploy: one mapping per provider, which the provider reads ---- */

struct ml_config_section {
	struct walker *w;
	const struct ynode *m;
	const char *name;
	char *path;		/* "deploy.gcp" */
	struct ml_pos pos;
};

const char *ml_section_path(const struct ml_config_section *s)
{
	return s->path;
}

struct ml_pos ml_section_pos(const struct ml_config_section *s, const char *key)
{
	const struct ynode *v = key ? map_get(s->m, key, NULL) : NULL;

	return v ? pos_of(s->w, v) : s->pos;
}

int ml_section_has(const struct ml_config_section *s, const char *key)
{
	const struct ynode *v = map_get(s->m, key, NULL);

	return v && !is_null(v);
}

int ml_section_keys(struct ml_config_section *s, const char *const *keys)
{
	const struct ynode *k;
	size_t i;

	for (i = 0; i < s->m->n; i += 2) {
		k = s->m->kids[i];
		if (!str_in(k->text, keys))
			return unknown_key(s->w, k, keys, s->name);
	}
	return 0;
}

int ml_section_require(struct ml_config_section *s, const char *key, const char *hint)
{
	char *text = NULL;
	int rc;

	s->w->hint = hint;
	rc = get_str(s->w, s->m, key, REQUIRED, NULL, &text, NULL);
	s->w->hint = NULL;
	free(text);
	return rc;
}

int ml_section_str(struct ml_config_section *s, const char *key, unsigned flags, char **out)
{
	return get_str(s->w, s->m, key, flags & ML_SECTION_REQUIRED ? REQUIRED : 0, NULL, out,
		       NULL);
}

static int enum_error(struct walker *w, const struct ynode *n, const char *v,
		      const char *const *allowed)
{
	const char *near = closest(v, allowed);
	struct ml_buf list = ML_BUF_INIT;
	int rc;

	join(&list, allowed);
	if (near)
		rc = werr(w, n, "invalid value '%s' for '%s' (did you mean '%s'? allowed: %s)",
			  q(w, v), qpath(w), near, ml_buf_str(&list));
	else
		rc = werr(w, n, "invalid value '%s' for '%s' (allowed: %s)", q(w, v), qpath(w),
			  ml_buf_str(&list));
	ml_buf_dispose(&list);
	return rc;
}

int ml_section_enum(struct ml_config_section *s, const char *key, unsigned flags,
		    const char *const *allowed, char **out)
{
	char *text = NULL;
	size_t old;
	int rc;

	rc = ml_section_str(s, key, flags, &text);
	if (rc == 0 && text && !str_in(text, allowed)) {
		old = path_push(s->w, key);
		rc = enum_error(s->w, map_get(s->m, key, NULL), text, allowed);
		path_pop(s->w, old);
	}
	if (rc == 0 && text) {
		free(*out);
		*out = text;
		text = NULL;
	}
	free(text);
	return rc;
}

int ml_section_int(struct ml_config_section *s, const char *key, unsigned flags, long min,
		   long max, int *out)
{
	int rc = 0;

	if (flags & ML_SECTION_REQUIRED)
		rc = ml_section_require(s, key, NULL);
	return rc < 0 ? rc : get_int(s->w, s->m, key, min, max, out);
}

int ml_section_bool(struct ml_config_section *s, const char *key, int *out)
{
	return get_bool(s->w, s->m, key, out);
}

int ml_section_positive(struct ml_config_section *s, const char *key, double *out)
{
	return get_positive(s->w, s->m, key, out);
}

int ml_section_strv(struct ml_config_section *s, const char *key, struct ml_strv *out)
{
	return get_strv(s->w, s->m, key, W_LIST, NULL, out);
}

int ml_section_kv(struct ml_config_section *s, const char *key, unsigned flags,
		  struct ml_kv **out, size_t *n)
{
	return get_kv(s->w, s->m, key, flags & ML_SECTION_ENV_NAMES ? check_env_key : NULL,
		      NULL, out, n);
}

const char *ml_section_quote(struct ml_config_section *s, const char *v)
{
	return q(s->w, v);
}

int ml_section_error(struct ml_config_section *s, const char *key, const char *fmt, ...)
{
	struct ml_pos pos = ml_section_pos(s, key);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror_at(s->w->err, pos.file, pos.line, pos.column, fmt, ap);
	va_end(ap);
	return rc;
}

const void *ml_config_provider_conf(const struct ml_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++)
		if (!strcmp(cfg->deploy[i].name, name))
			return cfg->deploy[i].conf;
	return NULL;
}

/* deploy.<name> = m, with the path at it: the provider's hook reads it. */
static int parse_provider(struct walker *w, const char *name, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	struct ml_config_section s = { w, m, name, NULL, pos_of(w, m) };
	struct ml_provider_section *p;
	void *conf = NULL;
	int rc;

	rc = check_map(w, m, NULL);
	if (rc < 0)
		return rc;
	s.path = ml_strdup(ml_buf_str(&w->path));
	rc = provider_hooks->parse(name, &s, &conf, w->err);
	free(s.path);
	if (rc < 0)
		return rc;
	cfg->deploy = ml_realloc(cfg->deploy, (cfg->ndeploy + 1) * sizeof(*cfg->deploy));
	p = &cfg->deploy[cfg->ndeploy++];
	p->name = ml_strdup(name);
	p->conf = conf;
	p->pos = s.pos;
	return 0;
}

/* null stands for an empty mapping, so that "gcp:" alone still reports what gcp
 * needs. */
static int walk_provider(struct walker *w, const struct ynode *k, const struct ynode *v)
{
	const char *const *names = provider_names();
	struct ynode empty;
	size_t old;
	int rc;

	if (!str_in(k->text, names))
		return unknown_key(w, k, names, NULL);
	if (is_null(v)) {
		memset(&empty, 0, sizeof(empty));
		empty.type = YN_MAP;
		empty.line = k->line;
		empty.column = k->column;
		v = &empty;
	}
	old = path_push(w, k->text);
	rc = parse_provider(w, k->text, v);
	path_pop(w, old);
	return rc;
}

static int walk_deploy(struct walker *w, const struct ynode *root)
{
	const struct ynode *m = map_get(root, "deploy", NULL);
	size_t i, old;
	int rc;

	if (!m || is_null(m))
		return 0;
	old = path_push(w, "deploy");
	rc = check_map(w, m, NULL);
	for (i = 0; rc == 0 && i < m->n; i += 2)
		rc = walk_provider(w, m->kids[i], m->kids[i + 1]);
	path_pop(w, old);
	return rc;
}

static int walk_health(struct walker *w, const struct ynode *m)
{
	return get_str(w, m, "path", 0, check_health_path, &w->cfg->health.path, NULL);
}

static int walk_root(struct walker *w, const struct ynode *root)
{
	struct ml_config *cfg = w->cfg;
	const struct ynode *k, *image;
	int rc;

	if (!root || is_null(root))
		return error_at(w->err, cfg->path, 1, 1, "the file is empty (it needs at least "
				"'name' and 'image.base')");
	if (root->type != YN_MAP)
		return werr(w, root, "expected a mapping at the top level, got %s "
			    "(start with 'name: ...')", describe(w, root));
	if ((rc = check_map(w, root, root_keys)) < 0 ||
	    (rc = get_str(w, root, "name", REQUIRED, check_name, &cfg->name, &cfg->name_pos)) < 0)
		return rc;
	image = map_get(root, "image", &k);
	if (!image || is_null(image))
		return missing(w, root, k, "image");
	if ((rc = walk_section(w, root, "image", image_keys, walk_image)) < 0 ||
	    (rc = walk_deploy(w, root)) < 0 ||
	    (rc = walk_section(w, root, "health", health_keys, walk_health)) < 0)
		return rc;
	return get_kv(w, root, "endpoints", check_endpoint_key, check_url, &cfg->endpoints,
		      &cfg->nendpoints);
}

/* ---- loading ---- */

static int read_file(const char *path, struct ml_buf *out, struct ml_error *err)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	ml_buf_init(out, CONFIG_MAX_SIZE);
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (ml_buf_add(out, chunk, n) < 0)
			rc = error_at(err, path, 1, 1, "the file is larger than %u MiB",
				      CONFIG_MAX_SIZE >> 20);
	if (rc == 0 && ferror(f))
		rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	fclose(f);
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash)
		return ml_strdup(".");
	len = (size_t)(slash - path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len ? ml_strndup(path, len) : ml_strdup("/");
}

static struct ml_config *config_new(const char *path, const char *dir)
{
	struct ml_config *cfg = ml_calloc(1, sizeof(*cfg));

	cfg->path = ml_strdup(path);
	cfg->dir = dir ? ml_strdup(dir) : dir_of(path);
	cfg->provider_hooks = provider_hooks;
	return cfg;
}

static void fill_defaults(struct ml_config *cfg)
{
	if (!cfg->image.platform)
		cfg->image.platform = ml_strdup("linux/amd64");
	if (!cfg->health.path)
		cfg->health.path = ml_strdup("/");
}

int ml_config_load(struct ml_config **out, const char *path, const char *dir,
		   struct ml_error *err)
{
	struct walker w = { .err = err };
	struct ml_buf data = ML_BUF_INIT;
	struct ynode *root = NULL;
	int rc;

	rc = read_file(path, &data, err);
	if (rc < 0)
		goto out;
	w.cfg = config_new(path, dir);
	rc = load_tree(w.cfg->path, &data, &root, err);
	if (rc < 0)
		goto out;
	rc = walk_root(&w, root);
	if (rc < 0)
		goto out;
	fill_defaults(w.cfg);
	*out = w.cfg;
	w.cfg = NULL;
out:
	ynode_free(root);
	ml_buf_dispose(&data);
	ml_buf_dispose(&w.path);
	ml_buf_dispose(&w.where);
	ml_config_free(w.cfg);
	return rc;
}

void ml_strv_dispose(struct ml_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
}

void ml_kv_free(struct ml_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void image_dispose(struct ml_config *cfg)
{
	size_t i;

	free(cfg->image.repository);
	free(cfg->image.base);
	free(cfg->image.platform);
	free(cfg->image.workdir);
	for (i = 0; i < cfg->image.ncopy; i++) {
		free(cfg->image.copy[i].src);
		free(cfg->image.copy[i].dst);
		free(cfg->image.copy[i].layer);
	}
	free(cfg->image.copy);
	ml_strv_dispose(&cfg->image.ignore);
	ml_strv_dispose(&cfg->image.allow_credentials);
	ml_strv_dispose(&cfg->image.tags);
	ml_kv_free(cfg->image.env, cfg->image.nenv);
	ml_strv_dispose(&cfg->image.cmd);
	ml_strv_dispose(&cfg->image.entrypoint);
	free(cfg->image.user);
	ml_kv_free(cfg->image.labels, cfg->image.nlabels);
	free(cfg->image.python.requirements);
	free(cfg->image.python.index);
	ml_strv_dispose(&cfg->image.python.extra_index);
	ml_strv_dispose(&cfg->image.python.find_links);
	free(cfg->image.python.version);
	free(cfg->image.python.site_packages);
	ml_strv_dispose(&cfg->image.python.platform_tags);
}

static void deploy_dispose(struct ml_config *cfg)
{
	const struct ml_config_provider_hooks *h = cfg->provider_hooks;
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++) {
		if (h && h->free)
			h->free(cfg->deploy[i].name, cfg->deploy[i].conf);
		free(cfg->deploy[i].name);
	}
	free(cfg->deploy);
}

void ml_config_free(struct ml_config *cfg)
{
	if (!cfg)
		return;
	image_dispose(cfg);
	deploy_dispose(cfg);
	free(cfg->health.path);
	ml_kv_free(cfg->endpoints, cfg->nendpoints);
	free(cfg->name);
	free(cfg->dir);
	free(cfg->path);
	free(cfg);
}

/* ---- JSON ---- */

static void json_opt_str(ml_json *obj, const char *key, const char *s)
{
	if (s)
		ml_json_set_str(obj, key, s);
}

static ml_json *json_strv(const struct ml_strv *sv)
{
	ml_json *arr = ml_json_array_new();
	size_t i;

	for (i = 0; i < sv->n; i++)
		ml_json_append(arr, ml_json_string_new(sv->v[i]));
	return arr;
}

static ml_json *json_kv(const struct ml_kv *kv, size_t n)
{
	ml_json *obj = ml_json_object_new();
	size_t i;

	for (i = 0; i < n; i++)
		ml_json_set_str(obj, kv[i].key, kv[i].value);
	return obj;
}

static ml_json *json_copy(const struct ml_config *cfg)
{
	ml_json *arr = ml_json_array_new(), *e;
	size_t i;

	for (i = 0; i < cfg->image.ncopy; i++) {
		e = ml_json_object_new();
		ml_json_set_str(e, "src", cfg->image.copy[i].src);
		ml_json_set_str(e, "dst", cfg->image.copy[i].dst);
		json_opt_str(e, "layer", cfg->image.copy[i].layer);
		ml_json_append(arr, e);
	}
	return arr;
}

/* Index URLs may hold a login: shown without it. */
static ml_json *json_url(const char *url)
{
	char *shown = ml_redacted_url(url);
	ml_json *j = ml_json_string_new(shown);

	free(shown);
	return j;
}

static ml_json *json_python(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new(), *extra = ml_json_array_new();
	size_t i;

	ml_json_set_str(o, "requirements", cfg->image.python.requirements);
	if (cfg->image.python.index)
		ml_json_set(o, "index", json_url(cfg->image.python.index));
	for (i = 0; i < cfg->image.python.extra_index.n; i++)
		ml_json_append(extra, json_url(cfg->image.python.extra_index.v[i]));
	ml_json_set(o, "extra_index", extra);
	ml_json_set(o, "find_links", json_strv(&cfg->image.python.find_links));
	json_opt_str(o, "version", cfg->image.python.version);
	json_opt_str(o, "site_packages", cfg->image.python.site_packages);
	ml_json_set(o, "platform_tags", json_strv(&cfg->image.python.platform_tags));
	return o;
}

static ml_json *json_image(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new();

	json_opt_str(o, "repository", cfg->image.repository);
	ml_json_set_str(o, "base", cfg->image.base);
	ml_json_set_str(o, "platform", cfg->image.platform);
	json_opt_str(o, "workdir", cfg->image.workdir);
	ml_json_set(o, "copy", json_copy(cfg));
	ml_json_set(o, "ignore", json_strv(&cfg->image.ignore));
	ml_json_set(o, "allow_credentials", json_strv(&cfg->image.allow_credentials));
	ml_json_set(o, "tags", json_strv(&cfg->image.tags));
	ml_json_set(o, "env", json_kv(cfg->image.env, cfg->image.nenv));
	if (cfg->image.port)
		ml_json_set_int(o, "port", cfg->image.port);
	if (cfg->image.cmd.present)
		ml_json_set(o, "cmd", json_strv(&cfg->image.cmd));
	if (cfg->image.entrypoint.present)
		ml_json_set(o, "entrypoint", json_strv(&cfg->image.entrypoint));
	json_opt_str(o, "user", cfg->image.user);
	ml_json_set(o, "labels", json_kv(cfg->image.labels, cfg->image.nlabels));
	if (cfg->image.python.present)
		ml_json_set(o, "python", json_python(cfg));
	return o;
}

static ml_json *json_deploy(const struct ml_config *cfg)
{
	const struct ml_config_provider_hooks *h = cfg->provider_hooks;
	ml_json *o = ml_json_object_new(), *sec;
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++) {
		sec = h && h->json ? h->json(cfg->deploy[i].name, cfg->deploy[i].conf) : NULL;
		ml_json_set(o, cfg->deploy[i].name, sec ? sec : ml_json_object_new());
	}
	return o;
}

ml_json *ml_config_to_json(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new(), *health = ml_json_object_new();

	ml_json_set_str(o, "file", cfg->path);
	ml_json_set_str(o, "context", cfg->dir);
	ml_json_set_str(o, "name", cfg->name);
	ml_json_set(o, "image", json_image(cfg));
	ml_json_set(o, "deploy", json_deploy(cfg));
	ml_json_set_str(health, "path", cfg->health.path);
	ml_json_set(o, "health", health);
	ml_json_set(o, "endpoints", json_kv(cfg->endpoints, cfg->nendpoints));
	return o;
}
