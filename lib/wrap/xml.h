/* XML through expat; only xml.c includes expat.h. A whole document is read into a
 * small read-only tree of elements, for the answers of AWS's Query APIs (STS,
 * Elastic Beanstalk):
 * - names are local names: namespace prefixes and URIs are dropped, so
 *   "ErrorResponse" matches <ErrorResponse xmlns="..."> and <aws:ErrorResponse>;
 * - an element's text is the character data directly inside it (CDATA sections,
 *   the five predefined entities and character references included), in UTF-8;
 * - attributes, comments and processing instructions are not kept;
 * - a document type declaration is refused, and with it every entity but the
 *   predefined ones (no billion laughs, no external entities).
 * Errors never quote the document (it may hold credentials). */
#ifndef ML_XML_H
#define ML_XML_H

#include <stddef.h>

#include "util/error.h"

#define ML_XML_MAX_DEFAULT (4u << 20)	/* bytes of a document when no cap is given */
#define ML_XML_DEPTH_MAX 256		/* elements nested deeper are refused */
#define ML_XML_ELEMENTS_MAX 100000	/* elements in one document */

struct ml_xml;

/* Parses len bytes at data, at most max (0: ML_XML_MAX_DEFAULT). On success *out
 * gets the document node, whose one child is the root element (free it with
 * ml_xml_free). Errors: -ML_EPROTO "invalid XML at line L column C: why", for
 * malformed, truncated or refused input; -ML_ETOOBIG over max. */
int ml_xml_parse(struct ml_xml **out, const char *data, size_t len, size_t max,
		 struct ml_error *err);
void ml_xml_free(struct ml_xml *doc);	/* NULL is fine */

/* The element at path below node, or NULL: '/'-separated local names, each step
 * taking the first child of that name; "" is node itself. From the document:
 * ml_xml_find(doc, "ErrorResponse/Error/Code"). NULL node gives NULL. */
const struct ml_xml *ml_xml_find(const struct ml_xml *node, const char *path);
/* node's text ("" when it has none); NULL when node is NULL, so that
 * ml_xml_text(ml_xml_find(doc, path)) is NULL for a missing element. */
const char *ml_xml_text(const struct ml_xml *node);
/* node's local name ("" for the document). */
const char *ml_xml_name(const struct ml_xml *node);

/* The first child element of node named name, and the next sibling after node
 * named name (any name when name is NULL); NULL when there is none:
 *   for (m = ml_xml_child(list, "member"); m; m = ml_xml_next(m, "member")) */
const struct ml_xml *ml_xml_child(const struct ml_xml *node, const char *name);
const struct ml_xml *ml_xml_next(const struct ml_xml *node, const char *name);

#endif
