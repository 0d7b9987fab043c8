/* XML answers of AWS's Query APIs (STS, Elastic Beanstalk). A refused document gets
 * a position and one of expat's or our fixed reasons, never a byte of the input; an
 * accepted one is a tree of one root element, within the caps, with local names and
 * UTF-8 text, in which every lookup finds what a walk finds. */
#include <string.h>

#include "fuzzutil.h"
#include "wrap/xml.h"

static size_t elements;

static void check_node(const struct ml_xml *n, size_t depth, const uint8_t *data, size_t size)
{
	const struct ml_xml *c, *first;
	const char *name;

	if (depth > ML_XML_DEPTH_MAX)
		fuzz_fail("an element nested deeper than the limit", data, size);
	if (!ml_xml_text(n) || !fuzz_utf8_valid(ml_xml_text(n), strlen(ml_xml_text(n))))
		fuzz_fail("text that is not UTF-8", data, size);
	for (c = ml_xml_child(n, NULL); c; c = ml_xml_next(c, NULL)) {
		if (++elements > ML_XML_ELEMENTS_MAX)
			fuzz_fail("more elements than the limit", data, size);
		name = ml_xml_name(c);
		if (!name[0] || strchr(name, ':') || strchr(name, '\x01') || strchr(name, '/') ||
		    !fuzz_utf8_valid(name, strlen(name)))
			fuzz_fail("an element without a plain local name", data, size);
		first = ml_xml_child(n, name);
		if (first != ml_xml_find(n, name) || !first)
			fuzz_fail("find and child disagree", data, size);
		while (first && first != c)
			first = ml_xml_next(first, name);
		if (first != c)
			fuzz_fail("iterating by name misses an element", data, size);
		check_node(c, depth + 1, data, size);
	}
}

static void check_error(const struct ml_error *err, const uint8_t *data, size_t size)
{
	static const char prefix[] = "invalid XML at line ";
	const char *p;

	if (err->code != ML_EPROTO || strncmp(err->msg, prefix, sizeof(prefix) - 1) != 0)
		fuzz_fail("a refusal without a position", data, size);
	p = strstr(err->msg, ": ");
	if (!p || !p[2])
		fuzz_fail("a refusal without a reason", data, size);
	for (p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '<' ||
		    *p == '&' || *p == '"')
			fuzz_fail("a refusal that may quote the document", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_xml *doc = (struct ml_xml *)&err, *unused = NULL;
	const struct ml_xml *root;

	if (ml_xml_parse(&doc, (const char *)data, size, 0, &err) < 0) {
		if (doc != (struct ml_xml *)&err)
			fuzz_fail("a refused document written out", data, size);
		check_error(&err, data, size);
		return 0;
	}
	root = ml_xml_child(doc, NULL);
	if (!root || ml_xml_next(root, NULL) || ml_xml_text(doc)[0] || ml_xml_name(doc)[0])
		fuzz_fail("a document without exactly one root element", data, size);
	elements = 0;
	check_node(doc, 0, data, size);
	if (ml_xml_find(doc, ml_xml_name(root)) != root)
		fuzz_fail("the root not found by its name", data, size);
	ml_xml_free(doc);
	if (size && ml_xml_parse(&unused, (const char *)data, size, size - 1, &err) != -ML_ETOOBIG)
		fuzz_fail("a document over the cap accepted", data, size);
	return 0;
}
