/* The clouds' error bodies turned into one line ("CODE: message"), for rest.c. */
#include "deploy/rest.h"

#include <string.h>

#include "deploy/rest-internal.h"
#include "util/buf.h"
#include "util/redact.h"
#include "wrap/xml.h"

#define LINE_TEXT_MAX 600	/* of server text taken into one line */
#define JSON_BODY_MAX (1u << 20)	/* larger error bodies are not parsed (JSON or XML) */

void ml_rest_line(char *out, size_t cap, const char *text)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *p;
	size_t n = 0;
	int blank = 1;

	if (!cap)
		return;
	ml_redact_text(&b, text, strlen(text), LINE_TEXT_MAX);
	for (p = ml_buf_str(&b); *p && n + 1 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!blank)
				out[n++] = ' ';
			blank = 1;
			continue;
		}
		out[n++] = (char)c;
		blank = 0;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (*p && cap > 4)
		memcpy(out + (n > cap - 4 ? cap - 4 : n), "...", 4);
	ml_buf_dispose(&b);
	ml_sanitize(out);
}

/* An error code as a short identifier: letters, digits and "_.:-" only. */
static void put_code(char *code_out, const char *code)
{
	size_t n = 0;

	if (!code_out)
		return;
	for (; code && *code && n + 1 < ML_REST_CODE_MAX; code++) {
		char c = *code;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == ':' || c == '-')
			code_out[n++] = c;
	}
	code_out[n] = '\0';
}

/* "CODE: message" (either may be missing, not both) as one line. */
static int put_line(char *out, size_t cap, char *code_out, const char *code, const char *message,
		    const char *extra)
{
	struct ml_buf b = ML_BUF_INIT;

	if ((!code || !*code) && (!message || !*message))
		return 0;
	if (code && *code)
		ml_buf_adds(&b, code);
	if (code && *code && message && *message)
		ml_buf_adds(&b, ": ");
	if (message)
		ml_buf_adds(&b, message);
	if (extra && *extra)
		ml_buf_printf(&b, " (%s)", extra);
	ml_rest_line(out, cap, ml_buf_str(&b));
	ml_buf_dispose(&b);
	put_code(code_out, code);
	return 1;
}

static ml_json *parse(const struct ml_http_response *resp)
{
	if (!resp->body.len || resp->body.len > JSON_BODY_MAX)
		return NULL;
	/* no error object: the parser's message may quote the body */
	return ml_json_parse(resp->body.data, resp->body.len, NULL);
}

/* OAuth 2.0 token endpoints (Google's and Entra ID's): {"error": "invalid_grant",
 * "error_description": "..."}. */
static int oauth(const ml_json *doc, char *out, size_t cap, char *code_out)
{
	const char *e = ml_json_get_str(doc, "error");

	return e && put_line(out, cap, code_out, e, ml_json_get_str(doc, "error_description"),
			     NULL);
}

/* Google: {"error": {"code": 404, "message": "...", "status": "NOT_FOUND", "details":
 * [{"@type": "...BadRequest", "fieldViolations": [{"field", "description"}]}]}}. */
static int decode_google(const struct ml_http_response *resp, char *out, size_t cap,
			 char *code_out)
{
	ml_json *doc = parse(resp), *e, *details, *v;
	struct ml_buf extra = ML_BUF_INIT;
	const char *message, *status;
	size_t i;
	int ok = 0;

	e = ml_json_get(doc, "error");
	if (!ml_json_is_object(e)) {
		ok = oauth(doc, out, cap, code_out);
		goto done;
	}
	message = ml_json_get_str(e, "message");
	status = ml_json_get_str(e, "status");
	if (!message && !status)
		goto done;
	details = ml_json_get(e, "details");
	for (i = 0; i < ml_json_size(details) && !extra.len; i++) {
		v = ml_json_at(ml_json_get(ml_json_at(details, i), "fieldViolations"), 0);
		if (ml_json_get_str(v, "field") && ml_json_get_str(v, "description"))
			ml_buf_printf(&extra, "%s: %s", ml_json_get_str(v, "field"),
				      ml_json_get_str(v, "description"));
	}
	ok = put_line(out, cap, code_out, status, message, ml_buf_str(&extra));
done:
	ml_buf_dispose(&extra);
	ml_json_free(doc);
	return ok;
}

/* Azure Resource Manager: {"error": {"code": "ResourceNotFound", "message": "...",
 * "details": [{"code", "message"}]}}, some resource providers without the "error"
 * wrapper. */
static int decode_azure(const struct ml_http_response *resp, char *out, size_t cap,
			char *code_out)
{
	ml_json *doc = parse(resp), *e, *d;
	struct ml_buf extra = ML_BUF_INIT;
	const char *code;
	int ok = 0;

	e = ml_json_get(doc, "error");
	if (!ml_json_is_object(e)) {
		ok = oauth(doc, out, cap, code_out);
		if (!ok && ml_json_get_str(doc, "code") && ml_json_get_str(doc, "message"))
			e = doc;
		if (ok || e != doc)
			goto done;
	}
	code = ml_json_get_str(e, "code");
	if (!code)
		goto done;
	d = ml_json_at(ml_json_get(e, "details"), 0);
	if (ml_json_get_str(d, "message"))
		ml_buf_printf(&extra, "%s%s%s", ml_json_get_str(d, "code") ?
			      ml_json_get_str(d, "code") : "", ml_json_get_str(d, "code") ? ": " : "",
			      ml_json_get_str(d, "message"));
	ok = put_line(out, cap, code_out, code, ml_json_get_str(e, "message"), ml_buf_str(&extra));
done:
	ml_buf_dispose(&extra);
	ml_json_free(doc);
	return ok;
}

/* AWS JSON 1.0/1.1 protocols: {"__type": "com.amazonaws.ecr#RepositoryNotFoundException",
 * "message": "..."} ("Message" in some services); the type may also come alone in
 * the X-Amzn-ErrorType header, as "Code:http://internal.amazon.com/...". */
static int decode_aws_json(const struct ml_http_response *resp, char *out, size_t cap,
			   char *code_out)
{
	ml_json *doc = parse(resp);
	const char *type = ml_json_get_str(doc, "__type"), *message, *hash;
	char code[ML_REST_CODE_MAX];
	size_t n;
	int ok = 0;

	if (!type)
		type = ml_http_response_header(resp, "X-Amzn-ErrorType");
	if (!type || !*type)
		goto done;
	hash = strrchr(type, '#');
	if (hash)
		type = hash + 1;
	n = strcspn(type, ":");
	if (n >= sizeof(code))
		n = sizeof(code) - 1;
	memcpy(code, type, n);
	code[n] = '\0';
	message = ml_json_get_str(doc, "message");
	if (!message)
		message = ml_json_get_str(doc, "Message");
	ok = put_line(out, cap, code_out, code, message, NULL);
done:
	ml_json_free(doc);
	return ok;
}

/* AWS Query APIs (STS, Elastic Beanstalk): <ErrorResponse><Error><Type>Sender</Type>
 * <Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>;
 * S3 answers <Error> at the root, EC2 <Response><Errors><Error>. */
static int decode_aws_query(const struct ml_http_response *resp, char *out, size_t cap,
			    char *code_out)
{
	static const char *const paths[] = { "ErrorResponse/Error", "Error", "Response/Errors/Error" };
	const struct ml_xml *e = NULL;
	struct ml_xml *doc = NULL;
	size_t i;
	int ok = 0;

	if (!resp->body.len || resp->body.len > JSON_BODY_MAX ||
	    ml_xml_parse(&doc, resp->body.data, resp->body.len, JSON_BODY_MAX, NULL) < 0)
		return 0;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && !e; i++)
		e = ml_xml_find(doc, paths[i]);
	if (e)
		ok = put_line(out, cap, code_out, ml_xml_text(ml_xml_find(e, "Code")),
			      ml_xml_text(ml_xml_find(e, "Message")), NULL);
	ml_xml_free(doc);
	return ok;
}

/* Docker Engine API: {"message": "No such container: iris"}. */
static int decode_docker(const struct ml_http_response *resp, char *out, size_t cap,
			 char *code_out)
{
	ml_json *doc = parse(resp);
	int ok = put_line(out, cap, NULL, NULL, ml_json_get_str(doc, "message"), NULL);

	if (ok && code_out)
		code_out[0] = '\0';
	ml_json_free(doc);
	return ok;
}

const ml_rest_decode_fn ml_rest_decode_google = decode_google;
const ml_rest_decode_fn ml_rest_decode_azure = decode_azure;
const ml_rest_decode_fn ml_rest_decode_aws_json = decode_aws_json;
const ml_rest_decode_fn ml_rest_decode_aws_query = decode_aws_query;
const ml_rest_decode_fn ml_rest_decode_docker = decode_docker;
