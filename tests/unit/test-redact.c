/* lib/util/redact*.c: headers, URLs, server text, JSON, XML and form bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "util/buf.h"
#include "util/redact.h"

static void check_header(const char *name, const char *value, const char *want)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_header(&b, name, value);
	assert_string_equal(ml_buf_str(&b), want);
	ml_buf_dispose(&b);
}

static void check_url(const char *url, const char *want)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_url(&b, url);
	assert_string_equal(ml_buf_str(&b), want);
	ml_buf_dispose(&b);
}

static void check_text_max(const char *text, size_t max, const char *want)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_text(&b, text, strlen(text), max);
	assert_string_equal(ml_buf_str(&b), want);
	ml_buf_dispose(&b);
}

static void check_text(const char *text, const char *want)
{
	check_text_max(text, 0, want);
}

static void check_body(const char *content_type, const char *body, const char *want)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_body(&b, content_type, body, strlen(body), 0);
	assert_string_equal(ml_buf_str(&b), want);
	ml_buf_dispose(&b);
}

static void test_header_named_secrets(void **state)
{
	static const char *const names[] = {
		"Authorization", "authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
		"X-Amz-Security-Token", "X-Registry-Auth", "X-Auth-Token", "Docker-Secret",
		"X-Amz-Signature", "X-Password", "X-Api-Key", "x-goog-api-KEY", "TOKEN",
		"Ocp-Apim-Subscription-Key", "X-Identity-Header", "X-IDENTITY-HEADER",
		"X-Amz-Credential", "X-Goog-Iap-Jwt-Assertion", "Cookie2", "X-Auth", NULL,
	};
	struct ml_buf b = ML_BUF_INIT, want = ML_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; names[i]; i++) {
		ml_buf_reset(&b);
		ml_buf_reset(&want);
		ml_redact_header(&b, names[i], "Bearer abc.def.ghi");
		ml_buf_printf(&want, "%s: <redacted>", names[i]);
		assert_string_equal(ml_buf_str(&b), ml_buf_str(&want));
	}
	ml_buf_dispose(&b);
	ml_buf_dispose(&want);
}

static void test_header_plain(void **state)
{
	(void)state;
	check_header("Content-Type", "application/json", "Content-Type: application/json");
	check_header("Docker-Content-Digest", "sha256:abc", "Docker-Content-Digest: sha256:abc");
	check_header("Keep-Alive", "timeout=5", "Keep-Alive: timeout=5");
	check_header("Location", "https://u:pw@blob.example/x?X-Amz-Signature=s1&X-Amz-Date=d",
		     "Location: https://blob.example/x?X-Amz-Signature=<redacted>&X-Amz-Date=d");
	check_header("Www-Authenticate",
		     "Bearer realm=\"https://auth.io/token?x=1\",service=\"r.io\",scope=\"repository:a:pull\"",
		     "Www-Authenticate: Bearer realm=\"https://auth.io/token?x=1\",service=\"r.io\","
		     "scope=\"repository:a:pull\"");
	check_header("Link", "</v2/_catalog?n=2&last=b&token=t>; rel=\"next\"",
		     "Link: </v2/_catalog?n=2&last=b&token=<redacted>>; rel=\"next\"");
	check_header("X-Note", "a\x1b[2Jb\r\nc\td", "X-Note: a?b??c?d");
}

static void test_header_rule(void **state)
{
	static const char *const plain[] = {
		"X-Amz-Content-Sha256", "Metadata-Flavor", "WWW-Authenticate", "Proxy-Authenticate",
		"Content-Type", "X-Amz-Date", "Docker-Upload-UUID", "Keep-Alive", "Metadata", NULL,
	};
	int i;

	(void)state;
	for (i = 0; plain[i]; i++)
		if (ml_redact_header_is_secret(plain[i]))
			fail_msg("'%s' taken for a credential", plain[i]);
	assert_true(ml_redact_header_is_secret("x-identity-header"));
	assert_true(ml_redact_header_is_secret("X-Amz-Security-Token"));
	check_header("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD");
	check_header("Metadata-Flavor", "Google", "Metadata-Flavor: Google");
	check_header("X-IDENTITY-HEADER", "abc", "X-IDENTITY-HEADER: <redacted>");
}

static void test_url_userinfo(void **state)
{
	(void)state;
	check_url("https://user:pass@r.io/v2/", "https://r.io/v2/");
	check_url("https://user@r.io:5000/v2/", "https://r.io:5000/v2/");
	check_url("http://a:b@c@[::1]:80/x@y", "http://[::1]:80/x@y");
	check_url("https://r.io/v2/a@b", "https://r.io/v2/a@b");
	check_url("//u:p@host/p", "//host/p");
	check_url("r.io/v2/", "r.io/v2/");
}

static void test_url_query(void **state)
{
	static const char *const secret[] = {
		"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "sig", "signature",
		"token", "access_token", "refresh_token", "code", "password", "secret", "key",
		"client_secret", "X-Goog-Signature", "X-Goog-Credential", "api_key", "SIG", NULL,
	};
	struct ml_buf b = ML_BUF_INIT, url = ML_BUF_INIT, want = ML_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; secret[i]; i++) {
		ml_buf_reset(&b);
		ml_buf_reset(&url);
		ml_buf_reset(&want);
		ml_buf_printf(&url, "https://h/p?a=1&%s=SECRET&b=2#f", secret[i]);
		ml_buf_printf(&want, "https://h/p?a=1&%s=<redacted>&b=2#f", secret[i]);
		ml_redact_url(&b, ml_buf_str(&url));
		assert_string_equal(ml_buf_str(&b), ml_buf_str(&want));
	}
	ml_buf_dispose(&b);
	ml_buf_dispose(&url);
	ml_buf_dispose(&want);
	check_url("https://r.io/token?service=r.io&scope=repository:a/b:pull&digest=sha256:1",
		  "https://r.io/token?service=r.io&scope=repository:a/b:pull&digest=sha256:1");
	check_url("/v2/a/blobs/uploads/?mount=sha256:1&from=b", "/v2/a/blobs/uploads/?mount=sha256:1&from=b");
	check_url("https://h/cb#access_token=t&state=s", "https://h/cb#access_token=<redacted>&state=s");
	check_url("https://h/p?token&x=&token=", "https://h/p?token&x=&token=<redacted>");
	check_url("https://h/a b\x1b?x=\xff", "https://h/a%20b%1B?x=%FF");
}

static void test_url_decoded(void **state)
{
	(void)state;
	/* names are compared decoded */
	check_url("https://h/?X-Amz-%53ignature=S&X%2DAmz%2DSecurity%2DToken=T&Client_Secret=C",
		  "https://h/?X-Amz-%53ignature=<redacted>&X%2DAmz%2DSecurity%2DToken=<redacted>&"
		  "Client_Secret=<redacted>");
	/* Azure SAS */
	check_url("https://a.blob.core.windows.net/c/b?sv=2021&se=2030&sr=b&sp=r&sig=S%3D",
		  "https://a.blob.core.windows.net/c/b?sv=2021&se=2030&sr=b&sp=r&sig=<redacted>");
	/* a URL inside a parameter */
	check_url("https://h/cb?code=C&state=s&redirect_uri=https%3A%2F%2Fx%2Fcb%3Faccess_token%3DT",
		  "https://h/cb?code=<redacted>&state=s&redirect_uri=https://x/cb?access_token=<redacted>");
	check_url("https://h/?next=https%3A%2F%2Fx%2F%3Fa%3D1", "https://h/?next=https%3A%2F%2Fx%2F%3Fa%3D1");
}

static void test_text_controls(void **state)
{
	const char nul[] = "a\0b";
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	check_text("plain text\nline 2\tcol", "plain text\nline 2\tcol");
	check_text("crlf\r\nlone\rcr", "crlf\nlone?cr");
	check_text("red \x1b[31mRED\x1b[0m end", "red ?RED? end");
	check_text("title \x1b]0;pwned\x07 x", "title ? x");
	check_text("osc \x1b]8;;http://e\x1b\\link", "osc ?link");
	check_text("esc \x1b" "c reset", "esc ? reset");
	check_text("bell\x07 nul bs\x08 del\x7f", "bell? nul bs? del?");
	check_text("c1 \xc2\x9b" "31m x", "c1 ?31m x");
	check_text("raw c1 \x9b" "31m", "raw c1 ?31m");
	check_text("bad \xff\xfe utf8 \xc0\xaf", "bad ?? utf8 ??");
	check_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3");
	check_text("trunc \xe2\x82", "trunc ??");
	ml_redact_text(&b, nul, 3, 0);
	assert_string_equal(ml_buf_str(&b), "a?b");
	ml_buf_dispose(&b);
}

static void test_text_json(void **state)
{
	(void)state;
	check_text("{\"token\":\"abc\"}", "{\"token\":\"<redacted>\"}");
	check_text("{\"access_token\": \"abc\", \"expires_in\": 300}",
		   "{\"access_token\": \"<redacted>\", \"expires_in\": 300}");
	check_text("{\"Token\" : \"a\\\"b\\\\\", \"x\":\"y\"}",
		   "{\"Token\" : \"<redacted>\", \"x\":\"y\"}");
	check_text("{\"refresh_token\":\"r\",\"password\":\"p\",\"secret\":\"s\","
		   "\"client_secret\":\"c\",\"Secret\":\"S\",\"private_key\":\"k\"}",
		   "{\"refresh_token\":\"<redacted>\",\"password\":\"<redacted>\",\"secret\":\"<redacted>\","
		   "\"client_secret\":\"<redacted>\",\"Secret\":\"<redacted>\",\"private_key\":\"<redacted>\"}");
	check_text("{\"auths\":{\"r.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		   "{\"auths\":{\"r.io\":{\"auth\":\"<redacted>\"}}}");
	check_text("{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
		   "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
	/* any value under a secret name, not only strings */
	check_text("{\"token_count\": 5, \"name\": \"token\"}",
		   "{\"token_count\": \"<redacted>\", \"name\": \"token\"}");
	check_text("{\"detail\":\"{\\\"token\\\":\\\"abc\\\"}\"}",
		   "{\"detail\":\"{\\\"token\\\":\\\"<redacted>\\\"}\"}");
	check_text("{\"token\":\"unterminated", "{\"token\":\"<redacted>");
}

/* JSON that the scanner finds in text (cut, broken, or among other words). */
static void test_text_json_shapes(void **state)
{
	(void)state;
	check_text("{\"password\":[\"x1\",\"x2\"],\"b\":1}", "{\"password\":\"<redacted>\",\"b\":1}");
	check_text("{\"a\":{\"client_secret\":{\"n\":{\"m\":\"S\"}}},\"z\":2}",
		   "{\"a\":{\"client_secret\":\"<redacted>\"},\"z\":2}");
	check_text("{\"access_\\u0074oken\":\"T1\",\"x\":1}",
		   "{\"access_\\u0074oken\":\"<redacted>\",\"x\":1}");
	check_text("{\"detail\":\"{\\\"access_\\\\u0074oken\\\":\\\"T2\\\",\\\"n\\\":[\\\"a\\\"]}\"}",
		   "{\"detail\":\"{\\\"access_\\\\u0074oken\\\":\\\"<redacted>\\\",\\\"n\\\":[\\\"a\\\"]}\"}");
	check_text("{'password': 'P1', 'user': 'bob'}", "{'password': '<redacted>', 'user': 'bob'}");
	check_text("{\"Subject_Token\" : \"ST\", \"ID_TOKEN\":\"IT\"}",
		   "{\"Subject_Token\" : \"<redacted>\", \"ID_TOKEN\":\"<redacted>\"}");
	check_text("{\"token\":[\"unterminated", "{\"token\":\"<redacted>");
	check_text("{\"authorization\":\"x\",\"client_assertion\":\"y\",\"signature\":\"z\"}",
		   "{\"authorization\":\"<redacted>\",\"client_assertion\":\"<redacted>\","
		   "\"signature\":\"<redacted>\"}");
}

static void test_text_xml(void **state)
{
	(void)state;
	check_text("<SecretAccessKey>SK</SecretAccessKey><sts:SessionToken>ST</sts:SessionToken >",
		   "<SecretAccessKey><redacted></SecretAccessKey><sts:SessionToken><redacted></sts:SessionToken>");
	/* CDATA that holds what looks like the end tag */
	check_text("<Password type=\"plain\">P<![CDATA[</Password>leak]]></Password><next/>",
		   "<Password><redacted></Password><next/>");
	check_text("<Password><Password>a</Password>b</Password>c", "<Password><redacted></Password>c");
	/* no matching end tag (names are case-sensitive), an unclosed tag: to the end */
	check_text("<Password>abc</password> more", "<Password><redacted>");
	check_text("ok <Password attr=\"x", "ok <<redacted>");
	check_text("<Password/> <user password=\"pw\" name=\"n\"/> <u a:password='pw2'/>",
		   "<Password/> <user password=\"<redacted>\" name=\"n\"/> <u a:password='<redacted>'/>");
	check_text("<!-- <Token>t</Token> --> ok", "<!-- <Token><redacted></Token> --> ok");
	check_text("<member><OptionName>DB_PASSWORD</OptionName><Value>V</Value></member>"
		   "<member><OptionName>PORT</OptionName><Value>80</Value></member>",
		   "<member><OptionName>DB_PASSWORD</OptionName><Value><redacted></Value></member>"
		   "<member><OptionName>PORT</OptionName><Value>80</Value></member>");
	check_text("<Code>InvalidClientTokenId</Code><Message>bad</Message>",
		   "<Code>InvalidClientTokenId</Code><Message>bad</Message>");
}

static void test_body_json(void **state)
{
	(void)state;
	/* parsed and printed again: compact, keys sorted */
	check_body("application/json",
		   "{\"password\":[\"x1\",{\"y\":\"x2\"}],\"nested\":{\"a\":[{\"client_secret\":{\"k\":\"S\"}}]},"
		   "\"access_\\u0074oken\":\"T\",\"expires_in\":3600,\"ok\":true}",
		   "{\"access_token\":\"<redacted>\",\"expires_in\":3600,\"nested\":{\"a\":[{\"client_secret\":"
		   "\"<redacted>\"}]},\"ok\":true,\"password\":\"<redacted>\"}");
	/* strings are redacted in turn: JSON, URLs, credentials in them */
	check_body(NULL, "{\"detail\":\"{\\\"refresh_token\\\":\\\"R\\\"}\",\"next\":\"https://h/p?sig=S&n=2\","
		   "\"note\":\"Bearer abcdefghijklmnop\"}",
		   "{\"detail\":\"{\\\"refresh_token\\\":\\\"<redacted>\\\"}\",\"next\":\"https://h/p?sig=<redacted>&n=2\","
		   "\"note\":\"Bearer <redacted>\"}");
	/* name/value pairs: environment variables */
	check_body("application/json",
		   "{\"env\":[{\"name\":\"DB_PASSWORD\",\"value\":\"V\"},{\"name\":\"PORT\",\"value\":\"80\"}],"
		   "\"Environment\":[{\"Name\":\"API_KEY\",\"Value\":\"K\"}]}",
		   "{\"Environment\":[{\"Name\":\"API_KEY\",\"Value\":\"<redacted>\"}],\"env\":[{\"name\":"
		   "\"DB_PASSWORD\",\"value\":\"<redacted>\"},{\"name\":\"PORT\",\"value\":\"80\"}]}");
	/* an operation's answer named like a secret is looked into */
	check_body("application/x-amz-json-1.1",
		   "{\"TokenResponse\":{\"access_token\":\"A\",\"expires_in\":1},\"tokenResult\":\"B\"}",
		   "{\"TokenResponse\":{\"access_token\":\"<redacted>\",\"expires_in\":1},\"tokenResult\":"
		   "\"<redacted>\"}");
	/* not JSON after all: the scanner */
	check_body("application/json", "{\"a\":1,\"token\":\"T", "{\"a\":1,\"token\":\"<redacted>");
	check_body("application/json", "{\"a\":1,\"token\":\"T\",\"token\":\"U\"}",
		   "{\"a\":1,\"token\":\"<redacted>\",\"token\":\"<redacted>\"}");
	check_body("application/json", "<Error><Code>X</Code><Token>T</Token></Error>",
		   "<Error><Code>X</Code><Token><redacted></Token></Error>");
}

static void test_body_xml(void **state)
{
	(void)state;
	check_body("text/xml",
		   "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		   "  <AssumeRoleResult>\n"
		   "    <Credentials>\n"
		   "      <AccessKeyId>AKIA</AccessKeyId>\n"
		   "      <SecretAccessKey>SK</SecretAccessKey>\n"
		   "      <SessionToken>ST</SessionToken>\n"
		   "    </Credentials>\n"
		   "  </AssumeRoleResult>\n"
		   "</AssumeRoleResponse>\n",
		   "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		   "  <AssumeRoleResult>\n"
		   "    <Credentials><redacted></Credentials>\n"
		   "  </AssumeRoleResult>\n"
		   "</AssumeRoleResponse>\n");
	check_body("application/xml",
		   "<GetSessionTokenResponse><GetSessionTokenResult><X><SessionToken>ST</SessionToken>"
		   "<Expiration>2030</Expiration></X></GetSessionTokenResult></GetSessionTokenResponse>",
		   "<GetSessionTokenResponse><GetSessionTokenResult><X><SessionToken><redacted></SessionToken>"
		   "<Expiration>2030</Expiration></X></GetSessionTokenResult></GetSessionTokenResponse>");
	check_body("text/xml", "<TokenResult>abc</TokenResult>", "<TokenResult><redacted></TokenResult>");
	/* escaped XML inside XML */
	check_body("application/xml", "<r><m>&lt;Password&gt;P&lt;/Password&gt;</m></r>",
		   "<r><m><Password><redacted></Password></m></r>");
	check_body("application/xml", "<r><m>&#x3C;Token>P&#60;/Token></m></r>",
		   "<r><m><Token><redacted></Token></m></r>");
	check_body(NULL, "<r a=\"1 &amp; 2\"><ns:Password>\n  P\n</ns:Password></r>",
		   "<r a=\"1 &amp; 2\"><ns:Password><redacted></ns:Password></r>");
	/* JSON in a text node */
	check_body("text/xml", "<r><m>{\"token\":\"T\"}</m></r>", "<r><m>{\"token\":\"<redacted>\"}</m></r>");
}

static void test_body_form(void **state)
{
	(void)state;
	check_body("application/x-www-form-urlencoded; charset=utf-8",
		   "grant_type=refresh_token&refresh_token=R&client%5Fsecret=S&scope=a+b",
		   "grant_type=refresh_token&refresh_token=<redacted>&client%5Fsecret=<redacted>&scope=a+b");
	check_body("application/x-www-form-urlencoded",
		   "grant_type=authorization_code&code=C&subject_token=ST&client_assertion=CA",
		   "grant_type=authorization_code&code=<redacted>&subject_token=<redacted>&"
		   "client_assertion=<redacted>");
	/* AWS query: environment variables as OptionName/Value pairs */
	check_body("application/x-www-form-urlencoded",
		   "Action=UpdateEnvironment&OptionSettings.member.1.OptionName=DB_PASSWORD&"
		   "OptionSettings.member.1.Value=V&OptionSettings.member.2.OptionName=PORT&"
		   "OptionSettings.member.2.Value=80",
		   "Action=UpdateEnvironment&OptionSettings.member.1.OptionName=DB_PASSWORD&"
		   "OptionSettings.member.1.Value=<redacted>&OptionSettings.member.2.OptionName=PORT&"
		   "OptionSettings.member.2.Value=80");
	/* a body that is not what its type says */
	check_body("application/x-www-form-urlencoded", "{\"password\":\"P\"}", "{\"password\":\"<redacted>\"}");
	check_body("text/plain", "plain text password=P and https://h/?token=T",
		   "plain text password=<redacted> and https://h/?token=<redacted>");
}

static void test_body_cut(void **state)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *doc = "{\"token\":\"abcdefgh\",\"z\":\"\xe2\x82\xac\"}";

	(void)state;
	ml_redact_body(&b, "application/json", doc, strlen(doc), 14);
	assert_string_equal(ml_buf_str(&b), "{\"token\":\"<red...");
	ml_buf_reset(&b);
	ml_redact_body(&b, "application/json", doc, strlen(doc), 29);
	assert_string_equal(ml_buf_str(&b), "{\"token\":\"<redacted>\",\"z\":\"...");
	ml_buf_reset(&b);
	ml_redact_body(&b, NULL, NULL, 0, 10);
	assert_string_equal(ml_buf_str(&b), "");
	ml_buf_dispose(&b);
}

static void test_text_form(void **state)
{
	(void)state;
	check_text("password=abc&x=1", "password=<redacted>&x=1");
	check_text("grant_type=refresh_token&refresh_token=r1&Client_Secret=c2&scope=s",
		   "grant_type=refresh_token&refresh_token=<redacted>&Client_Secret=<redacted>&scope=s");
	check_text("assertion=eyJ.x.y&grant_type=jwt", "assertion=<redacted>&grant_type=jwt");
	check_text("error: bad token=xyz here", "error: bad token=<redacted> here");
	check_text("mytoken=1 tokens=2", "mytoken=<redacted> tokens=<redacted>");
	check_text("username=bob&a=b", "username=bob&a=b");
}

static void test_text_urls_and_bearer(void **state)
{
	(void)state;
	check_text("GET https://bob:hunter2@r.io/v2/?token=t1 failed",
		   "GET https://r.io/v2/?token=<redacted> failed");
	check_text("see <https://x.io/a?sig=zz>.", "see <https://x.io/a?sig=<redacted>>.");
	check_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
		   "Authorization: Bearer <redacted>");
	check_text("basic dXNlcjpodW50ZXIy!", "basic <redacted>!");
	check_text("Bearer realm=\"x\"", "Bearer realm=\"x\"");
	check_text("invalid token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln: expired",
		   "invalid token <redacted>: expired");
	check_text("eyJ.a.b eyJhbGc", "eyJ.a.b eyJhbGc");
}

static void test_text_cut(void **state)
{
	(void)state;
	check_text_max("0123456789", 4, "0123...");
	check_text_max("0123", 4, "0123");
	check_text_max("ab\xe2\x82\xac", 4, "ab...");
	check_text_max("{\"token\":\"abcdefgh\"}", 14, "{\"token\":\"<redacted>...");
	check_text_max("password=abcdefgh&x=1", 12, "password=<redacted>...");
	check_text_max("https://h/?sig=abcdefgh", 18, "https://h/?sig=<redacted>...");
}

static void test_sanitize(void **state)
{
	char s[] = "ok \x1b[31m\r\n\t\x7f caf\xc3\xa9 \xc2\x9b \xff";

	(void)state;
	ml_sanitize(s);
	assert_string_equal(s, "ok ?[31m???? caf\xc3\xa9 ?? ?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_named_secrets),
		cmocka_unit_test(test_header_plain),
		cmocka_unit_test(test_header_rule),
		cmocka_unit_test(test_url_userinfo),
		cmocka_unit_test(test_url_query),
		cmocka_unit_test(test_url_decoded),
		cmocka_unit_test(test_text_controls),
		cmocka_unit_test(test_text_json),
		cmocka_unit_test(test_text_json_shapes),
		cmocka_unit_test(test_text_xml),
		cmocka_unit_test(test_body_json),
		cmocka_unit_test(test_body_xml),
		cmocka_unit_test(test_body_form),
		cmocka_unit_test(test_body_cut),
		cmocka_unit_test(test_text_form),
		cmocka_unit_test(test_text_urls_and_bearer),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
