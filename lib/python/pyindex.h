/* Python package indexes: the simple repository API (PEP 691 JSON, PEP 503 HTML),
 * and find-links locations (directories of wheels, or HTML pages of links).
 * Basic auth comes from the index URL's userinfo (sent only to that origin) or from
 * ~/.netrc; downloads land in the content-addressed cache, checked against the
 * sha256 the index gives. */
#ifndef ML_PYINDEX_H
#define ML_PYINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "image/cache.h"
#include "wrap/digest.h"
#include "util/error.h"

struct ml_pyfile {
	char *filename;
	char *url;		/* absolute URL without credentials; NULL for a local file */
	char *path;		/* local file (a find-links directory); NULL for a URL */
	char *sha256;		/* lower-case hex the index gave, NULL when it gave none */
	char *requires_python;	/* NULL when not given */
	int yanked;
	const char *source;	/* the index or directory (redacted), borrowed from the index */
};

struct ml_pyindex;

/* indexes: simple API base URLs (may hold user:password@); find_links: directories
 * or URLs of link pages. Either may be empty. */
int ml_pyindex_new(struct ml_pyindex **out, char *const *indexes, size_t nindexes,
		   char *const *find_links, size_t nfind_links, struct ml_error *err);
void ml_pyindex_free(struct ml_pyindex *ix);

/* Every file of the project (normalized name) from every source, in source order.
 * A project unknown to a source is not an error (no files). */
int ml_pyindex_project(struct ml_pyindex *ix, const char *normalized, struct ml_pyfile **files,
		       size_t *n, struct ml_error *err);
void ml_pyfiles_free(struct ml_pyfile *files, size_t n);

/* Makes the file available locally: a URL is downloaded into the cache (once: a blob
 * already there with the index's sha256 is used as is), a local file is hashed where it
 * is. Checks the index's sha256. digest receives "sha256:<hex>", size the length and
 * *path (malloc'ed) where the file now is. */
int ml_pyindex_fetch(struct ml_pyindex *ix, const struct ml_pyfile *f, struct ml_cache *cache,
		     char digest[ML_DIGEST_LEN], int64_t *size, char **path, struct ml_error *err);

/* Parses one project page served from page_url (PEP 691 JSON when content_type says
 * so, else PEP 503 HTML): the wheels of the project named normalized, their absolute
 * URLs, sha256, requires-python and yanked state (source is "page"). */
int ml_pyindex_parse_page(const char *page_url, const char *content_type, const char *body,
			  size_t len, const char *normalized, struct ml_pyfile **files, size_t *n,
			  struct ml_error *err);

#endif
