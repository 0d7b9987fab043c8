#include "wrap/xml.h"

#include <expat.h>
#include <limits.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

/* Expat reports a name in a namespace as "URI<NS_SEP>local". The separator cannot
 * occur in a local name (nor anywhere in XML 1.0 text), so the local name is what
 * follows its last occurrence. */
#define NS_SEP '\x01'

struct ml_xml {
	char *name;		/* local name; NULL for the document */
	struct ml_buf text;
	struct ml_xml *parent, *first, *last, *next;
};

struct parse {
	XML_Parser p;
	struct ml_xml *doc, *cur;
	size_t max, depth, elements;
	const char *refused;	/* why a handler stopped the parser */
	unsigned long line, column;
};

static struct ml_xml *node_new(struct ml_xml *parent, const char *name, size_t max)
{
	struct ml_xml *n = ml_calloc(1, sizeof(*n));

	n->name = name ? ml_strdup(name) : NULL;
	ml_buf_init(&n->text, max);
	n->parent = parent;
	if (parent && parent->last)
		parent->last->next = n;
	else if (parent)
		parent->first = n;
	if (parent)
		parent->last = n;
	return n;
}

void ml_xml_free(struct ml_xml *doc)
{
	struct ml_xml *c, *next;

	if (!doc)
		return;
	for (c = doc->first; c; c = next) {
		next = c->next;
		ml_xml_free(c);	/* recursion as deep as the tree: ML_XML_DEPTH_MAX */
	}
	free(doc->name);
	ml_buf_dispose(&doc->text);
	free(doc);
}

/* Stops the parse from a handler, remembering where and why. */
static void refuse(struct parse *ps, const char *why)
{
	if (ps->refused)
		return;
	ps->refused = why;
	ps->line = XML_GetCurrentLineNumber(ps->p);
	ps->column = XML_GetCurrentColumnNumber(ps->p);
	XML_StopParser(ps->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *ps = ud;
	const char *local = strrchr(name, NS_SEP);

	(void)attrs;
	if (ps->refused)
		return;
	if (ps->depth >= ML_XML_DEPTH_MAX) {
		refuse(ps, "elements nested too deep");
		return;
	}
	if (ps->elements >= ML_XML_ELEMENTS_MAX) {
		refuse(ps, "too many elements");
		return;
	}
	ps->cur = node_new(ps->cur, local ? local + 1 : name, ps->max);
	ps->depth++;
	ps->elements++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct parse *ps = ud;

	(void)name;
	if (ps->refused || !ps->cur->parent)
		return;
	ps->cur = ps->cur->parent;
	ps->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct parse *ps = ud;

	if (ps->refused || ps->cur == ps->doc)
		return;
	if (ml_buf_add(&ps->cur->text, s, (size_t)len) < 0)
		refuse(ps, "text over the size cap");
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	refuse(ud, "document type declarations are refused");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
			      const XML_Char *value, int value_len, const XML_Char *base,
			      const XML_Char *sysid, const XML_Char *pubid,
			      const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	refuse(ud, "entity declarations are refused");
}

static XML_Parser parser_new(struct parse *ps)
{
	XML_Parser p = XML_ParserCreateNS(NULL, NS_SEP);

	if (!p)
		return NULL;
	XML_SetUserData(p, ps);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	return p;
}

int ml_xml_parse(struct ml_xml **out, const char *data, size_t len, size_t max,
		 struct ml_error *err)
{
	struct parse ps;
	int rc = 0;

	if (!max)
		max = ML_XML_MAX_DEFAULT;
	if (len > max || len > INT_MAX)
		return ml_error_set(err, ML_ETOOBIG, "XML document of %zu bytes is over the "
				    "%zu-byte cap", len, max);
	memset(&ps, 0, sizeof(ps));
	ps.max = max;
	ps.p = parser_new(&ps);
	if (!ps.p)
		return ml_error_set(err, ML_EINTERNAL, "cannot create an XML parser");
	ps.doc = ps.cur = node_new(NULL, NULL, max);
	/* The whole document in one final call: expat's reparse deferral (2.6) has
	 * nothing to defer, so it is left as it is. */
	if (XML_Parse(ps.p, data ? data : "", (int)len, XML_TRUE) != XML_STATUS_OK) {
		if (!ps.refused) {
			ps.refused = XML_ErrorString(XML_GetErrorCode(ps.p));
			ps.line = XML_GetCurrentLineNumber(ps.p);
			ps.column = XML_GetCurrentColumnNumber(ps.p);
		}
		rc = ml_error_set(err, ML_EPROTO, "invalid XML at line %lu column %lu: %s",
				  ps.line, ps.column + 1, ps.refused ? ps.refused : "unknown error");
		ml_xml_free(ps.doc);
	} else {
		*out = ps.doc;
	}
	XML_ParserFree(ps.p);
	return rc;
}

static int name_is(const struct ml_xml *n, const char *name, size_t len)
{
	return strlen(n->name) == len && memcmp(n->name, name, len) == 0;
}

static const struct ml_xml *child_n(const struct ml_xml *node, const char *name, size_t len)
{
	const struct ml_xml *c;

	for (c = node->first; c; c = c->next)
		if (name_is(c, name, len))
			return c;
	return NULL;
}

const struct ml_xml *ml_xml_find(const struct ml_xml *node, const char *path)
{
	const char *slash;

	while (node && *path) {
		slash = strchr(path, '/');
		if (!slash)
			return child_n(node, path, strlen(path));
		node = child_n(node, path, (size_t)(slash - path));
		path = slash + 1;
		if (!*path)
			return NULL;	/* "a/" names no element */
	}
	return node;
}

const char *ml_xml_text(const struct ml_xml *node)
{
	return node ? ml_buf_str(&node->text) : NULL;
}

const char *ml_xml_name(const struct ml_xml *node)
{
	return node && node->name ? node->name : "";
}

const struct ml_xml *ml_xml_child(const struct ml_xml *node, const char *name)
{
	const struct ml_xml *c = node ? node->first : NULL;

	while (c && name && strcmp(c->name, name) != 0)
		c = c->next;
	return c;
}

const struct ml_xml *ml_xml_next(const struct ml_xml *node, const char *name)
{
	const struct ml_xml *c = node ? node->next : NULL;

	while (c && name && strcmp(c->name, name) != 0)
		c = c->next;
	return c;
}
