/* deploy.yaml's text -> a tree of struct ynode; and ml_yaml_write, which writes platform files.
 *
 * libyaml's event API feeds a small tree of our own rather than libyaml's
 * document: anchors, aliases, tags and nesting depth are then refused where they
 * appear, with their marks, and the tree is never a graph. The only file that
 * includes yaml.h. */
#include "config/config-internal.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "util/alloc.h"

#define CONFIG_MAX_DEPTH 64		/* the schema needs 4 levels */

struct loader {
	yaml_parser_t parser;
	const char *file;
	const char *data;
	size_t len;
	struct ml_error *err;
};

void ml_cfg_ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		ml_cfg_ynode_free(n->kids[i]);
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

__attribute__((format(printf, 3, 4)))
static int lerr(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ml_cfg_verror_at(ld->err, ld->file, (int)m->line + 1, (int)m->column + 1, fmt, ap);
	va_end(ap);
	return rc;
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
		return ml_cfg_error_at(ld->err, ld->file, line, column, "%s (byte 0x%02x; the file "
				       "must be utf-8 text)", p->problem,
				       (unsigned)p->problem_value & 0xff);
	return ml_cfg_error_at(ld->err, ld->file, line, column, "%s (the file must be utf-8 text)",
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
		return ml_error_set(ld->err, ML_EINTERNAL, "%s: out of memory in libyaml",
				    ld->file);
	case YAML_READER_ERROR:
		return reader_error(ld);
	default:
		if (!ld->parser.problem)
			return ml_cfg_error_at(ld->err, ld->file, 1, 1, "libyaml failed without a "
					       "reason");
		return syntax_error(ld);
	}
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev))
		return parser_error(ld);
	return 0;
}

/* The core schema's scalar tags (YAML 1.2.2, 10.3.2), with the values each
 * allows as POSIX extended regular expressions. */
static const struct {
	const char *uri, *pattern, *needs;
} scalar_tags[] = {
	[YT_NULL] = { YAML_NULL_TAG, "^(null|Null|NULL|~|)$", "'!!null' needs null, ~ or nothing" },
	[YT_BOOL] = { YAML_BOOL_TAG, "^(true|True|TRUE|false|False|FALSE)$",
		      "'!!bool' needs true or false" },
	[YT_INT] = { YAML_INT_TAG, "^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
		     "'!!int' needs an integer such as 8080" },
	[YT_FLOAT] = { YAML_FLOAT_TAG, "^([-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|"
		       "[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
		       "'!!float' needs a number such as 1.5" },
};

int ml_cfg_tag_fits(enum ytag tag, const char *text)
{
	regex_t re;
	int fits;

	if (tag == YT_NONE)
		return 1;
	if (regcomp(&re, scalar_tags[tag].pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	fits = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return fits;
}

const char *ml_cfg_tag_needs(enum ytag tag)
{
	return scalar_tags[tag].needs;
}

enum { TAG_NONE, TAG_STR, TAG_SCALAR, TAG_SEQ, TAG_MAP, TAG_BAD };

/* !!str makes a scalar a string; the core schema's other tags change nothing but
 * must fit what they tag (*yt gets a scalar tag's type). */
static int tag_kind(const yaml_char_t *utag, enum ytag *yt)
{
	const char *tag = (const char *)utag;
	size_t i;

	*yt = YT_NONE;
	if (!tag)
		return TAG_NONE;
	if (!strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG))
		return TAG_STR;
	if (!strcmp(tag, YAML_SEQ_TAG))
		return TAG_SEQ;
	if (!strcmp(tag, YAML_MAP_TAG))
		return TAG_MAP;
	for (i = YT_NULL; i < sizeof(scalar_tags) / sizeof(scalar_tags[0]); i++) {
		if (!strcmp(tag, scalar_tags[i].uri)) {
			*yt = (enum ytag)i;
			return TAG_SCALAR;
		}
	}
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

/* A collection's tag on a scalar, or a scalar's on a collection; the core
 * schema's tags are shown as written ("!!seq"). */
static int misplaced_tag(struct loader *ld, const yaml_mark_t *m, const yaml_char_t *utag,
			 const char *what)
{
	const char *tag = (const char *)utag, *prefix = "tag:yaml.org,2002:";

	if (!strncmp(tag, prefix, strlen(prefix)))
		return lerr(ld, m, "tag '!!%s' does not fit %s (remove the tag)",
			    tag + strlen(prefix), what);
	return lerr(ld, m, "tag '%.60s' does not fit %s (remove the tag)", tag, what);
}

/* A scalar's tag is checked here, or after expansion when its text holds "${"
 * (unless it is a key, which is never expanded). */
static int check_tag(struct loader *ld, struct ynode *n, int now)
{
	char shown[QUOTE_BUF];

	if (n->tag == YT_NONE || (!now && strstr(n->text, "${")))
		return 0;
	if (!ml_cfg_tag_fits(n->tag, n->text)) {
		ml_cfg_shorten(shown, n->text);
		return ml_cfg_error_at(ld->err, ld->file, n->line, n->column, "value '%s' does not "
				       "match its tag (%s; remove the tag or change the value)",
				       shown, ml_cfg_tag_needs(n->tag));
	}
	n->tag = YT_NONE;
	return 0;
}

static int build_scalar(struct loader *ld, const yaml_event_t *ev, struct ynode **out)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	enum ytag yt;
	int kind = tag_kind(ev->data.scalar.tag, &yt), rc;
	struct ynode *n;

	if (ev->data.scalar.anchor)
		return refuse_anchor(ld, &ev->start_mark, ev->data.scalar.anchor);
	if (kind == TAG_BAD)
		return refuse_tag(ld, &ev->start_mark, ev->data.scalar.tag);
	if (kind == TAG_SEQ || kind == TAG_MAP)
		return misplaced_tag(ld, &ev->start_mark, ev->data.scalar.tag, "a scalar");
	if (memchr(value, '\0', len))
		return lerr(ld, &ev->start_mark, "a value contains a NUL character");
	n = ynode_new(YN_SCALAR, &ev->start_mark);
	n->text = ml_strndup(value, len);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && kind != TAG_STR;
	n->tag = yt;
	rc = check_tag(ld, n, 0);
	if (rc < 0) {
		ml_cfg_ynode_free(n);
		return rc;
	}
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
	enum ytag yt;
	int kind = tag_kind(tag, &yt), rc;

	if (anchor)
		return refuse_anchor(ld, &ev->start_mark, anchor);
	if (kind == TAG_BAD)
		return refuse_tag(ld, &ev->start_mark, tag);
	if (kind != TAG_NONE && kind != (is_map ? TAG_MAP : TAG_SEQ) &&
	    strcmp((const char *)tag, "!"))
		return misplaced_tag(ld, &ev->start_mark, tag, is_map ? "a mapping" : "a sequence");
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
		if (rc == 0 && is_map && n->n % 2 == 0 && kid->type == YN_SCALAR)
			rc = check_tag(ld, kid, 1);
		if (rc < 0) {
			ml_cfg_ynode_free(kid);
			goto out;
		}
		ynode_add(n, kid);
	}
	*out = n;
	n = NULL;
out:
	ml_cfg_ynode_free(n);
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

int ml_cfg_yaml_load(const char *file, const struct ml_buf *data, struct ynode **root,
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
		ml_cfg_ynode_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- writing: a JSON tree as one block-style YAML document ---- */

struct writer {
	yaml_emitter_t emitter;
	struct ml_buf *out;
};

static int write_out(void *ud, unsigned char *data, size_t len)
{
	return ml_buf_add(ud, data, len) == 0;
}

/* Whether a string reads back as that string when written plain: no null, boolean
 * (YAML 1.1's yes/no/on/off too) or number look-alike, nothing YAML gives a meaning. */
static int plain_safe(const char *s)
{
	static const char *const words[] = { "y", "n", "yes", "no", "true", "false", "on", "off",
					     "null", NULL };
	size_t i;

	if (!*s || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_/", s[0]))
		return 0;
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") !=
	    strlen(s))
		return 0;
	for (i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return 0;
	return 1;
}

static int emit_scalar(struct writer *w, const char *tag, const char *text, int plain)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)text,
					  (int)strlen(text), plain, !plain,
					  plain ? YAML_PLAIN_SCALAR_STYLE :
					  YAML_SINGLE_QUOTED_SCALAR_STYLE))
		return -1;
	return yaml_emitter_emit(&w->emitter, &ev) ? 0 : -1;
}

static int emit_node(struct writer *w, const ml_json *v, int depth)
{
	yaml_event_t ev;
	char num[64];
	int64_t i;
	double d;
	size_t k;
	void *it;

	if (depth > CONFIG_MAX_DEPTH)
		return -1;
	if (ml_json_is_object(v)) {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(&w->emitter, &ev))
			return -1;
		for (it = ml_json_iter((ml_json *)v); it; it = ml_json_iter_next((ml_json *)v, it)) {
			const char *key = ml_json_iter_key(it);

			if (emit_scalar(w, YAML_STR_TAG, key, plain_safe(key)) < 0 ||
			    emit_node(w, ml_json_iter_value(it), depth + 1) < 0)
				return -1;
		}
		if (!yaml_mapping_end_event_initialize(&ev))
			return -1;
		return yaml_emitter_emit(&w->emitter, &ev) ? 0 : -1;
	}
	if (ml_json_is_array(v)) {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(&w->emitter, &ev))
			return -1;
		for (k = 0; k < ml_json_size(v); k++)
			if (emit_node(w, ml_json_at(v, k), depth + 1) < 0)
				return -1;
		if (!yaml_sequence_end_event_initialize(&ev))
			return -1;
		return yaml_emitter_emit(&w->emitter, &ev) ? 0 : -1;
	}
	if (ml_json_is_string(v))
		return emit_scalar(w, YAML_STR_TAG, ml_json_str(v), plain_safe(ml_json_str(v)));
	if (ml_json_int(v, &i) == 0) {
		snprintf(num, sizeof(num), "%lld", (long long)i);
		return emit_scalar(w, YAML_INT_TAG, num, 1);
	}
	if (ml_json_number(v, &d) == 0) {
		snprintf(num, sizeof(num), "%.15g", d);
		if (!strpbrk(num, ".eEni"))	/* so that it reads back as a float */
			snprintf(num, sizeof(num), "%.1f", d);
		return emit_scalar(w, YAML_FLOAT_TAG, num, 1);
	}
	if (ml_json_is_true(v))
		return emit_scalar(w, YAML_BOOL_TAG, "true", 1);
	return -1;	/* false and null are not written (nothing needs them) */
}

int ml_yaml_write(const ml_json *doc, struct ml_buf *out, struct ml_error *err)
{
	struct writer w = { .out = out };
	yaml_event_t ev;
	int ok, rc;

	if (!yaml_emitter_initialize(&w.emitter))
		return ml_error_set(err, ML_EINTERNAL, "cannot initialize libyaml's emitter");
	yaml_emitter_set_output(&w.emitter, write_out, out);
	yaml_emitter_set_unicode(&w.emitter, 1);
	yaml_emitter_set_width(&w.emitter, -1);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	     yaml_emitter_emit(&w.emitter, &ev) &&
	     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	     yaml_emitter_emit(&w.emitter, &ev) && emit_node(&w, doc, 0) == 0 &&
	     yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&w.emitter, &ev) &&
	     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&w.emitter, &ev) &&
	     yaml_emitter_flush(&w.emitter);
	rc = ok ? 0 : ml_error_set(err, ML_EINTERNAL, "cannot write yaml: %s", w.emitter.problem ?
				   w.emitter.problem : "a value yaml cannot hold");
	yaml_emitter_delete(&w.emitter);
	return rc;
}
