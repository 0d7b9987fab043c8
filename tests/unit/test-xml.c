/* Unit tests for lib/wrap/xml.c: the answers of AWS STS and Elastic Beanstalk (from
 * their API references), errors, namespaces, CDATA, entities, refused DTDs, malformed
 * and truncated input reported by position without quoting it, the caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "wrap/xml.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
#define TOKEN "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE"

static const char sts[] =
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <AssumeRoleWithWebIdentityResult>\n"
	"    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A"
	"</SubjectFromWebIdentityToken>\n"
	"    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>\n"
	"    <AssumedRoleUser>\n"
	"      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>\n"
	"      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>\n"
	"    </AssumedRoleUser>\n"
	"    <Credentials>\n"
	"      <SessionToken>" TOKEN "</SessionToken>\n"
	"      <SecretAccessKey>" SECRET "</SecretAccessKey>\n"
	"      <Expiration>2014-10-24T23:00:23Z</Expiration>\n"
	"      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
	"    </Credentials>\n"
	"    <SourceIdentity>SourceIdentityValue</SourceIdentity>\n"
	"    <Provider>www.amazon.com</Provider>\n"
	"  </AssumeRoleWithWebIdentityResult>\n"
	"  <ResponseMetadata>\n"
	"    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
	"  </ResponseMetadata>\n"
	"</AssumeRoleWithWebIdentityResponse>\n";

static const char eb[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeEnvironmentsResponse "
	"xmlns=\"http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/\">\n"
	"  <DescribeEnvironmentsResult>\n"
	"    <Environments>\n"
	"      <member>\n"
	"        <VersionLabel>Version1</VersionLabel>\n"
	"        <Status>Available</Status>\n"
	"        <ApplicationName>SampleApp</ApplicationName>\n"
	"        <CNAME>SampleApp-jxb293wg7n.elasticbeanstalk.amazonaws.com</CNAME>\n"
	"        <Health>Green</Health>\n"
	"        <EnvironmentId>e-icsgecu3wf</EnvironmentId>\n"
	"        <EnvironmentName>SampleApp</EnvironmentName>\n"
	"        <Tier><Name>WebServer</Name><Type>Standard</Type><Version>1.0</Version></Tier>\n"
	"      </member>\n"
	"      <!-- a comment between members -->\n"
	"      <member>\n"
	"        <Status>Updating</Status>\n"
	"        <EnvironmentId>e-2</EnvironmentId>\n"
	"        <EnvironmentName>Staging &amp; QA</EnvironmentName>\n"
	"        <Description></Description>\n"
	"      </member>\n"
	"      <member>\n"
	"        <EnvironmentId>e-3</EnvironmentId>\n"
	"        <EnvironmentName>ml-prod</EnvironmentName>\n"
	"      </member>\n"
	"    </Environments>\n"
	"    <NextToken>AAAA-next</NextToken>\n"
	"  </DescribeEnvironmentsResult>\n"
	"  <ResponseMetadata>\n"
	"    <RequestId>44790c68-f260-11df-8a78-9f77047e0d0c</RequestId>\n"
	"  </ResponseMetadata>\n"
	"</DescribeEnvironmentsResponse>\n";

static const char error_response[] =
	"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <Error>\n"
	"    <Type>Sender</Type>\n"
	"    <Code>InvalidIdentityToken</Code>\n"
	"    <Message>No OpenIDConnect provider found in your account for "
	"https://oidc.example.com</Message>\n"
	"  </Error>\n"
	"  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
	"</ErrorResponse>\n";

static struct ml_xml *parse_ok(const char *s, size_t len)
{
	struct ml_error err = { 0, "" };
	struct ml_xml *doc = NULL;

	if (ml_xml_parse(&doc, s, len, 0, &err) < 0)
		fail_msg("refused: %s", err.msg);
	assert_non_null(doc);
	return doc;
}

/* Parsing s must fail with code, at where ("line L column C" exactly, or "line L"),
 * saying why, without a word of the document. */
static void parse_bad(const char *s, size_t len, size_t max, int code, const char *where,
		      const char *why)
{
	struct ml_error err = { 0, "" };
	struct ml_xml *doc = (struct ml_xml *)&err;	/* must be left alone */
	char at[64];

	if (ml_xml_parse(&doc, s, len, max, &err) != -code)
		fail_msg("'%.*s' not refused with %d: '%s'", (int)len, s, code, err.msg);
	assert_ptr_equal(doc, (struct ml_xml *)&err);
	assert_int_equal(err.code, code);
	snprintf(at, sizeof(at), "at %s%s", where ? where : "",
		 where && strstr(where, "column") ? ":" : " ");
	if (where && !strstr(err.msg, at))
		fail_msg("'%s' does not say '%s'", err.msg, at);
	if (why && !strstr(err.msg, why))
		fail_msg("'%s' does not say '%s'", err.msg, why);
	assert_null(strstr(err.msg, SECRET));
	assert_null(strstr(err.msg, "wJalr"));
	assert_null(strstr(err.msg, TOKEN));
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.msg, "<"));
}

static void test_sts(void **state)
{
	struct ml_xml *doc = parse_ok(sts, strlen(sts));
	const struct ml_xml *creds, *root;

	(void)state;
	root = ml_xml_child(doc, NULL);
	assert_string_equal(ml_xml_name(root), "AssumeRoleWithWebIdentityResponse");
	assert_null(ml_xml_next(root, NULL));
	creds = ml_xml_find(doc, "AssumeRoleWithWebIdentityResponse/"
			    "AssumeRoleWithWebIdentityResult/Credentials");
	assert_non_null(creds);
	assert_string_equal(ml_xml_text(ml_xml_find(creds, "AccessKeyId")), "ASgeIAIOSFODNN7EXAMPLE");
	assert_string_equal(ml_xml_text(ml_xml_find(creds, "SecretAccessKey")), SECRET);
	assert_string_equal(ml_xml_text(ml_xml_find(creds, "SessionToken")), TOKEN);
	assert_string_equal(ml_xml_text(ml_xml_find(creds, "Expiration")), "2014-10-24T23:00:23Z");
	assert_string_equal(ml_xml_text(ml_xml_find(root, "AssumeRoleWithWebIdentityResult/"
						   "AssumedRoleUser/Arn")),
			    "arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1");
	assert_string_equal(ml_xml_text(ml_xml_find(root, "ResponseMetadata/RequestId")),
			    "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE");
	/* missing steps, and paths that name no element */
	assert_null(ml_xml_find(doc, "AssumeRoleWithWebIdentityResponse/Credentials"));
	assert_null(ml_xml_find(creds, "AccessKeyId/x"));
	assert_null(ml_xml_find(creds, "accesskeyid"));
	assert_null(ml_xml_find(doc, "AssumeRoleWithWebIdentityResponse//ResponseMetadata"));
	assert_null(ml_xml_find(doc, "AssumeRoleWithWebIdentityResponse/"));
	assert_null(ml_xml_find(doc, "/AssumeRoleWithWebIdentityResponse"));
	assert_null(ml_xml_find(NULL, "a"));
	assert_ptr_equal(ml_xml_find(creds, ""), creds);
	assert_null(ml_xml_text(ml_xml_find(doc, "Nope/Code")));
	assert_string_equal(ml_xml_name(doc), "");
	assert_string_equal(ml_xml_text(doc), "");
	ml_xml_free(doc);
	ml_xml_free(NULL);
}

static void test_eb_members(void **state)
{
	struct ml_xml *doc = parse_ok(eb, strlen(eb));
	const struct ml_xml *envs, *m, *c;
	const char *ids[3] = { 0 }, *names[3] = { 0 };
	size_t n = 0;

	(void)state;
	envs = ml_xml_find(doc, "DescribeEnvironmentsResponse/DescribeEnvironmentsResult/"
			   "Environments");
	assert_non_null(envs);
	for (m = ml_xml_child(envs, "member"); m; m = ml_xml_next(m, "member")) {
		assert_true(n < 3);
		ids[n] = ml_xml_text(ml_xml_find(m, "EnvironmentId"));
		names[n++] = ml_xml_text(ml_xml_find(m, "EnvironmentName"));
	}
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "e-icsgecu3wf");
	assert_string_equal(ids[1], "e-2");
	assert_string_equal(ids[2], "e-3");
	assert_string_equal(names[0], "SampleApp");
	assert_string_equal(names[1], "Staging & QA");
	assert_string_equal(names[2], "ml-prod");
	m = ml_xml_child(envs, "member");
	assert_string_equal(ml_xml_text(ml_xml_find(m, "Tier/Type")), "Standard");
	/* an empty element has empty text; a missing one has none */
	m = ml_xml_next(m, "member");
	assert_string_equal(ml_xml_text(ml_xml_find(m, "Description")), "");
	assert_null(ml_xml_text(ml_xml_find(m, "Health")));
	/* every child in order, by any name */
	n = 0;
	for (c = ml_xml_child(m, NULL); c; c = ml_xml_next(c, NULL))
		n++;
	assert_int_equal(n, 4);
	assert_string_equal(ml_xml_name(ml_xml_child(m, NULL)), "Status");
	assert_null(ml_xml_child(envs, "Member"));
	assert_null(ml_xml_child(NULL, "member"));
	assert_null(ml_xml_next(NULL, NULL));
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "DescribeEnvironmentsResponse/"
						   "DescribeEnvironmentsResult/NextToken")),
			    "AAAA-next");
	ml_xml_free(doc);

	/* an empty list */
	doc = parse_ok("<R><Environments/></R>", 22);
	assert_non_null(ml_xml_find(doc, "R/Environments"));
	assert_null(ml_xml_child(ml_xml_find(doc, "R/Environments"), "member"));
	ml_xml_free(doc);
}

static void test_error_response(void **state)
{
	struct ml_xml *doc = parse_ok(error_response, strlen(error_response));

	(void)state;
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "ErrorResponse/Error/Code")),
			    "InvalidIdentityToken");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "ErrorResponse/Error/Type")), "Sender");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "ErrorResponse/Error/Message")),
			    "No OpenIDConnect provider found in your account for "
			    "https://oidc.example.com");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "ErrorResponse/RequestId")),
			    "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
	ml_xml_free(doc);
}

/* Prefixes and namespaces are dropped: local names match whatever the document declares. */
static void test_namespaces(void **state)
{
	static const char s[] =
		"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
		"xmlns:a=\"urn:a\" xmlns=\"urn:default\">"
		"<soap:Body><a:Code>one</a:Code><Code xmlns=\"urn:other\">two</Code>"
		"<b:Code xmlns:b=\"urn:b\" a:attr=\"x\">three</b:Code><Plain>p</Plain></soap:Body>"
		"</soap:Envelope>";
	struct ml_xml *doc = parse_ok(s, strlen(s));
	const struct ml_xml *body, *c;
	const char *want[] = { "one", "two", "three" };
	size_t n = 0;

	(void)state;
	body = ml_xml_find(doc, "Envelope/Body");
	assert_non_null(body);
	assert_null(ml_xml_find(doc, "soap:Envelope"));
	for (c = ml_xml_child(body, "Code"); c; c = ml_xml_next(c, "Code")) {
		assert_true(n < 3);
		assert_string_equal(ml_xml_name(c), "Code");
		assert_string_equal(ml_xml_text(c), want[n++]);
	}
	assert_int_equal(n, 3);
	assert_string_equal(ml_xml_text(ml_xml_find(body, "Plain")), "p");
	ml_xml_free(doc);

	/* a prefix never declared is an error */
	parse_bad("<a><x:b/></a>", 13, 0, ML_EPROTO, "line 1 column 4", "unbound prefix");
}

static void test_cdata_text_and_entities(void **state)
{
	static const char s[] =
		"<r><c><![CDATA[<not> &amp; a tag]]></c>"
		"<m>x<![CDATA[y]]>z<i>inner</i>w</m>"
		"<e>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;</e>"
		"<s>  spaced\ttext\n</s>"
		"<u>na\xc3\xafve \xe2\x82\xac</u></r>";
	static const char latin1[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>";
	struct ml_xml *doc = parse_ok(s, strlen(s));

	(void)state;
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/c")), "<not> &amp; a tag");
	/* the text directly inside, not the children's */
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/m")), "xyzw");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/m/i")), "inner");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/e")), "&<>\"'AB\xc3\xa9");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/s")), "  spaced\ttext\n");
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "r/u")), "na\xc3\xafve \xe2\x82\xac");
	ml_xml_free(doc);

	/* another encoding comes out as UTF-8 */
	doc = parse_ok(latin1, strlen(latin1));
	assert_string_equal(ml_xml_text(ml_xml_find(doc, "a")), "caf\xc3\xa9");
	ml_xml_free(doc);
}

/* No DTD at all: no billion laughs, no external entities, nothing but the predefined
 * entities. */
static void test_doctype_refused(void **state)
{
	static const char laughs[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		"]>\n"
		"<lolz>&lol2;</lolz>\n";
	static const char xxe[] =
		"<!DOCTYPE r [<!ENTITY secret SYSTEM \"file:///etc/passwd\">]><r>&secret;</r>";
	static const char external[] = "<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/r.dtd\"><r/>";
	static const char plain[] = "<!DOCTYPE r><r>hunter2</r>";
	static const char param[] =
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><r/>";

	(void)state;
	/* found at the '[' of the internal subset, before any entity is declared */
	parse_bad(laughs, strlen(laughs), 0, ML_EPROTO, "line 2 column 16",
		  "document type declarations are refused");
	parse_bad(xxe, strlen(xxe), 0, ML_EPROTO, "line 1 column 13", "document type");
	parse_bad(external, strlen(external), 0, ML_EPROTO, "line 1", "document type");
	parse_bad(plain, strlen(plain), 0, ML_EPROTO, "line 1", "document type");
	parse_bad(param, strlen(param), 0, ML_EPROTO, "line 1", "document type");
	/* an entity nobody declared */
	parse_bad("<r>&lol;</r>", 12, 0, ML_EPROTO, "line 1 column 4", "undefined entity");
	parse_bad("<r>&#0;</r>", 11, 0, ML_EPROTO, "line 1 column 4", "invalid character");
}

static void test_malformed_and_truncated(void **state)
{
	static const char enc[] = "<?xml version=\"1.0\" encoding=\"EBCDIC-hunter2\"?><a/>";
	size_t cut;

	(void)state;
	parse_bad("", 0, 0, ML_EPROTO, "line 1 column 1", "no element found");
	parse_bad(NULL, 0, 0, ML_EPROTO, "line 1 column 1", "no element found");
	parse_bad("not xml", 7, 0, ML_EPROTO, "line 1 column 1", "syntax error");
	parse_bad("<a>\n  <b></c>\n</a>", 18, 0, ML_EPROTO, "line 2 column 8", "mismatched tag");
	parse_bad("<a/><b/>", 8, 0, ML_EPROTO, "line 1 column 5", "junk after document element");
	parse_bad("<a x='1' x='2'/>", 16, 0, ML_EPROTO, "line 1 column 10", "duplicate attribute");
	parse_bad("<a>\n\xff</a>", 9, 0, ML_EPROTO, "line 2 column 1", "not well-formed");
	parse_bad("<a>b\0c</a>", 10, 0, ML_EPROTO, "line 1", NULL);
	parse_bad(enc, strlen(enc), 0, ML_EPROTO, "line 1", "unknown encoding");
	/* a secret in a mismatched element is not quoted */
	parse_bad("<a><SecretAccessKey>" SECRET "</SecretAccessKey></b>",
		  strlen("<a><SecretAccessKey>" SECRET "</SecretAccessKey></b>"), 0, ML_EPROTO,
		  "line 1 column 82", "mismatched tag");

	/* every cut of the STS answer short of its root's end tag is refused, by position */
	for (cut = 0; cut < strlen(sts) - strlen("</AssumeRoleWithWebIdentityResponse>\n") + 1;
	     cut += 7)
		parse_bad(sts, cut, 0, ML_EPROTO, "line", NULL);
	parse_bad(sts, strlen(sts) - 3, 0, ML_EPROTO, "line 21 column 1", "unclosed token");
}

static void test_caps(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_xml *doc = NULL;
	struct ml_buf deep = ML_BUF_INIT, many = ML_BUF_INIT;
	char *big;
	size_t i;

	(void)state;
	/* the size cap, exactly */
	assert_int_equal(ml_xml_parse(&doc, "<a>12345</a>", 12, 12, &err), 0);
	ml_xml_free(doc);
	parse_bad("<a>12345</a>", 12, 11, ML_ETOOBIG, NULL, "12 bytes is over the 11-byte cap");
	big = malloc(ML_XML_MAX_DEFAULT + 1);
	assert_non_null(big);
	memset(big, ' ', ML_XML_MAX_DEFAULT + 1);
	memcpy(big, "<a>", 3);
	memcpy(big + ML_XML_MAX_DEFAULT - 4, "</a>", 4);
	doc = NULL;
	assert_int_equal(ml_xml_parse(&doc, big, ML_XML_MAX_DEFAULT, 0, &err), 0);
	assert_int_equal(strlen(ml_xml_text(ml_xml_find(doc, "a"))), ML_XML_MAX_DEFAULT - 7);
	ml_xml_free(doc);
	parse_bad(big, ML_XML_MAX_DEFAULT + 1, 0, ML_ETOOBIG, NULL, "cap");
	free(big);

	/* nesting: as deep as the limit, not deeper */
	for (i = 0; i < ML_XML_DEPTH_MAX; i++)
		ml_buf_adds(&deep, "<d>");
	ml_buf_adds(&deep, "x");
	for (i = 0; i < ML_XML_DEPTH_MAX; i++)
		ml_buf_adds(&deep, "</d>");
	doc = parse_ok(deep.data, deep.len);
	ml_xml_free(doc);
	ml_buf_reset(&deep);
	for (i = 0; i <= ML_XML_DEPTH_MAX; i++)
		ml_buf_adds(&deep, "<d>");
	for (i = 0; i <= ML_XML_DEPTH_MAX; i++)
		ml_buf_adds(&deep, "</d>");
	parse_bad(deep.data, deep.len, 0, ML_EPROTO, "line 1 column 769", "nested too deep");

	/* the element count */
	ml_buf_adds(&many, "<r>");
	for (i = 1; i < ML_XML_ELEMENTS_MAX; i++)
		ml_buf_adds(&many, "<m/>");
	ml_buf_adds(&many, "</r>");
	doc = parse_ok(many.data, many.len);
	ml_xml_free(doc);
	ml_buf_truncate(&many, many.len - 4);
	ml_buf_adds(&many, "<m/></r>");
	parse_bad(many.data, many.len, 0, ML_EPROTO, "line 1", "too many elements");
	ml_buf_dispose(&deep);
	ml_buf_dispose(&many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_eb_members),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_cdata_text_and_entities),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_malformed_and_truncated),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
