/* Unit tests for lib/python/wheel.c: wheels are built at test time by Python's zipfile
 * module (tests/unit must not include archive.h) and installed into a temporary
 * staging directory. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "python/wheel.h"

#define PURELIB "/usr/local/lib/python3.11/site-packages"
#define PLATLIB "/usr/local/lib64/python3.11/site-packages"
#define WHEEL_NAME "demo-1.0-py3-none-any.whl"
#define DI "demo-1.0.dist-info"

/* mkwheel.py OUT < spec: spec is a Python literal
 * {"files": [(name, data[, zip mode])], "purelib": "true"|"false",
 *  "distinfo": name, "bare": no default METADATA/WHEEL, "record": False,
 *  "unrecorded": names left out of RECORD, "tamper": {name: data hashed instead},
 *  "extra_rows": [(path, hash, size)]} */
static const char mkwheel_py[] =
	"import ast, base64, csv, hashlib, io, sys, zipfile\n"
	"spec = ast.literal_eval(sys.stdin.read())\n"
	"di = spec.get('distinfo', 'demo-1.0.dist-info')\n"
	"files = [tuple(f) for f in spec.get('files', [])]\n"
	"names = [f[0] for f in files]\n"
	"if not spec.get('bare'):\n"
	"    if di + '/METADATA' not in names:\n"
	"        files.append((di + '/METADATA', 'Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n'))\n"
	"    if di + '/WHEEL' not in names:\n"
	"        files.append((di + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\n'\n"
	"                      'Root-Is-Purelib: %s\\nTag: py3-none-any\\n' % spec.get('purelib', 'true')))\n"
	"rows = []\n"
	"def add(z, name, data, mode):\n"
	"    zi = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))\n"
	"    zi.create_system = 3\n"
	"    zi.external_attr = mode << 16\n"
	"    zi.compress_type = zipfile.ZIP_DEFLATED\n"
	"    z.writestr(zi, data)\n"
	"with zipfile.ZipFile(sys.argv[1], 'w') as z:\n"
	"    for f in files:\n"
	"        name, data = f[0], f[1]\n"
	"        data = data.encode() if isinstance(data, str) else data\n"
	"        add(z, name, data, f[2] if len(f) > 2 else 0o100644)\n"
	"        if name in spec.get('unrecorded', ()):\n"
	"            continue\n"
	"        h = spec.get('tamper', {}).get(name, data)\n"
	"        h = h.encode() if isinstance(h, str) else h\n"
	"        d = base64.urlsafe_b64encode(hashlib.sha256(h).digest()).rstrip(b'=').decode()\n"
	"        rows.append((name, 'sha256=' + d, len(data)))\n"
	"    rows += [tuple(r) for r in spec.get('extra_rows', [])]\n"
	"    if spec.get('record', True):\n"
	"        out = io.StringIO()\n"
	"        csv.writer(out, lineterminator='\\n').writerows(rows + [(di + '/RECORD', '', '')])\n"
	"        add(z, di + '/RECORD', out.getvalue(), 0o100644)\n";

struct fixture {
	char dir[64];
	char root[96];
	char outside[96];
	char wheel[160];
	struct ml_wheel_scheme s;
	char warnings[4096];
};

static void on_log(int level, const char *msg, void *ud)
{
	struct fixture *f = ud;
	size_t n = strlen(f->warnings);

	if (level == ML_LOG_WARN)
		snprintf(f->warnings + n, sizeof(f->warnings) - n, "%s\n", msg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char py[128];
	FILE *fp;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-wheel-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->dir);
	snprintf(f->wheel, sizeof(f->wheel), "%s/" WHEEL_NAME, f->dir);
	snprintf(py, sizeof(py), "%s/mkwheel.py", f->dir);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0 || !(fp = fopen(py, "w")))
		return -1;
	fputs(mkwheel_py, fp);
	if (fclose(fp) != 0)
		return -1;
	f->s.root = f->root;
	f->s.purelib = PURELIB;
	f->s.platlib = PLATLIB;
	f->s.scripts = "/usr/local/bin";
	f->s.data = "/usr/local";
	f->s.headers = "/usr/local/include/python3.11";
	f->s.interpreter = "/usr/local/bin/python3.11";
	ml_log_set_handler(on_log, f, ML_LOG_WARN);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	ml_log_set_handler(NULL, NULL, ML_LOG_WARN);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void make_wheel_at(struct fixture *f, const char *out, const char *spec)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/mkwheel.py' '%s'", f->dir, out);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(spec, p);
	assert_int_equal(pclose(p), 0);
}

static void make_wheel(struct fixture *f, const char *spec)
{
	make_wheel_at(f, f->wheel, spec);
}

static int install(struct fixture *f, struct ml_wheel_installed *out, struct ml_error *err)
{
	ml_error_clear(err);
	return ml_wheel_install(f->wheel, WHEEL_NAME, &f->s, out, err);
}

static void install_ok(struct fixture *f, struct ml_wheel_installed *out)
{
	struct ml_error err = { 0 };
	int rc = install(f, out, &err);

	if (rc != 0)
		fail_msg("install failed: %s", err.msg);
}

/* The content of root + image path, NUL-terminated. */
static char *slurp(struct fixture *f, const char *image_path)
{
	char *path = ml_path_join(f->root, image_path + 1);
	struct ml_buf b = ML_BUF_INIT;
	struct ml_error err = { 0 };

	if (ml_read_file(path, 1 << 20, &b, &err) < 0)
		fail_msg("cannot read %s: %s", path, err.msg);
	free(path);
	return b.data ? ml_buf_detach(&b) : strdup("");
}

static void assert_content(struct fixture *f, const char *image_path, const char *want)
{
	char *got = slurp(f, image_path);

	assert_string_equal(got, want);
	free(got);
}

static unsigned mode_of(struct fixture *f, const char *image_path)
{
	char *path = ml_path_join(f->root, image_path + 1);
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("missing %s", path);
	free(path);
	return st.st_mode & 07777;
}

static int exists(struct fixture *f, const char *image_path)
{
	char *path = ml_path_join(f->root, image_path + 1);
	struct stat st;
	int rc = lstat(path, &st) == 0;

	free(path);
	return rc;
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_pure_layout(void **state)
{
	struct fixture *f = *state;
	struct ml_wheel_installed out = { 0, 0 };

	make_wheel(f, "{'files': [('demo/__init__.py', 'x = 1\\n'),"
		      " ('demo/sub/mod.py', 'def f():\\n    return 2\\n'),"
		      " ('demo/tool.sh', '#!/bin/sh\\necho hi\\n', 0o100755)]}");
	install_ok(f, &out);
	assert_content(f, PURELIB "/demo/__init__.py", "x = 1\n");
	assert_content(f, PURELIB "/demo/sub/mod.py", "def f():\n    return 2\n");
	assert_int_equal(mode_of(f, PURELIB "/demo/__init__.py"), 0644);
	assert_int_equal(mode_of(f, PURELIB "/demo/tool.sh"), 0755);
	assert_int_equal(mode_of(f, PURELIB "/demo/sub"), 0755);
	assert_int_equal(mode_of(f, "/usr"), 0755);
	assert_content(f, PURELIB "/" DI "/INSTALLER", "mldeploy\n");
	assert_content(f, PURELIB "/" DI "/METADATA",
		       "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n");
	assert_content(f, PURELIB "/" DI "/RECORD",
		       DI "/INSTALLER,sha256=mHsuJln1VGnr8gpdmEM0OZ1tbwmFAVpkvL2xCwe0TH8,9\r\n"
		       DI "/METADATA,sha256=NKonpgZPlYtBt4GiF_KQ_Qq1-WUeK25Kzas0G3uTwwU,46\r\n"
		       DI "/RECORD,,\r\n"
		       DI "/WHEEL,sha256=GOJWfGKy_s7ZRMtmrMyJFvIHxzo0gLZVhGWWyTqB6uo,75\r\n"
		       "demo/__init__.py,sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q,6\r\n"
		       "demo/sub/mod.py,sha256=t_3u_S_y_TavtZGcd4kFN6jXTBWx_DFgWfxp37UnqT8,22\r\n"
		       "demo/tool.sh,sha256=KZABho-4wC_UMcM2xtBY9VWMXf9bWvXm_gS4cKapy7o,18\r\n");
	assert_int_equal(out.nfiles, 7);
	assert_true(out.bytes > 9 + 46 + 75 + 6 + 22 + 18);
	assert_false(exists(f, PLATLIB));
	assert_string_equal(f->warnings, "");
}

static void test_platlib(void **state)
{
	struct fixture *f = *state;

	make_wheel(f, "{'purelib': 'false', 'files': [('demo/_speed.so', 'ELF', 0o100755),"
		      " ('demo-1.0.data/purelib/demo_pure.py', 'p = 1\\n')]}");
	install_ok(f, NULL);
	assert_content(f, PLATLIB "/demo/_speed.so", "ELF");
	assert_int_equal(mode_of(f, PLATLIB "/demo/_speed.so"), 0755);
	assert_content(f, PLATLIB "/" DI "/INSTALLER", "mldeploy\n");
	assert_content(f, PURELIB "/demo_pure.py", "p = 1\n");
	assert_false(exists(f, PURELIB "/demo"));
	assert_false(exists(f, PURELIB "/" DI));
}

static void test_scripts(void **state)
{
	struct fixture *f = *state;
	char *record;

	make_wheel(f, "{'files': [('demo-1.0.data/scripts/run', '#!python\\nprint(1)\\n'),"
		      " ('demo-1.0.data/scripts/runw', '#!pythonw -E\\r\\nx\\n'),"
		      " ('demo-1.0.data/scripts/sh', '#!/bin/sh\\necho\\n'),"
		      " ('demo-1.0.data/scripts/empty', '')]}");
	install_ok(f, NULL);
	assert_content(f, "/usr/local/bin/run", "#!/usr/local/bin/python3.11\nprint(1)\n");
	assert_content(f, "/usr/local/bin/runw", "#!/usr/local/bin/python3.11 -E\r\nx\n");
	assert_content(f, "/usr/local/bin/sh", "#!/bin/sh\necho\n");
	assert_content(f, "/usr/local/bin/empty", "");
	assert_int_equal(mode_of(f, "/usr/local/bin/run"), 0755);
	assert_int_equal(mode_of(f, "/usr/local/bin/sh"), 0755);
	assert_int_equal(mode_of(f, "/usr/local/bin/empty"), 0755);
	record = slurp(f, PURELIB "/" DI "/RECORD");
	assert_non_null(strstr(record, "\r\n../../../bin/run,"
				"sha256=TYhjJ-hL3PkdUgWjdfiWhi5cjFkfna0ZnFWrdBLWFZg,37\r\n"));
	assert_non_null(strstr(record, "\r\n../../../bin/sh,sha256="));
	assert_null(strstr(record, "data/scripts"));
	free(record);
}

static void test_data_headers(void **state)
{
	struct fixture *f = *state;

	make_wheel(f, "{'files': [('demo-1.0.data/data/share/demo/x.txt', 'data'),"
		      " ('demo-1.0.data/headers/demo.h', '#define DEMO 1\\n'),"
		      " ('demo-1.0.data/purelib/extra.py', 'e = 1\\n')]}");
	install_ok(f, NULL);
	assert_content(f, "/usr/local/share/demo/x.txt", "data");
	assert_int_equal(mode_of(f, "/usr/local/share/demo/x.txt"), 0644);
	assert_content(f, "/usr/local/include/python3.11/demo/demo.h", "#define DEMO 1\n");
	assert_content(f, PURELIB "/extra.py", "e = 1\n");
}

#define EP_HEAD "#!/usr/local/bin/python3.11\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
#define EP_MAIN "if __name__ == '__main__':\n" \
	"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"

static void test_entry_points(void **state)
{
	struct fixture *f = *state;
	char *record;

	make_wheel(f, "{'files': [('demo-1.0.dist-info/entry_points.txt',"
		      " '[console_scripts]\\ndemo = demo.cli:main\\n"
		      "demo-sub=demo.cli:app.run [extra]\\n# comment\\n\\n"
		      "[gui_scripts]\\ndemo-gui = demo.gui:start\\n"
		      "[demo.plugins]\\nnot-a-script = demo.x:y\\n'),"
		      " ('demo-1.0.data/scripts/demo', 'old wrapper'),"
		      " ('demo/cli.py', '')]}");
	install_ok(f, NULL);
	assert_content(f, "/usr/local/bin/demo",
		       EP_HEAD "from demo.cli import main\n" EP_MAIN "    sys.exit(main())\n");
	assert_content(f, "/usr/local/bin/demo-sub",
		       EP_HEAD "from demo.cli import app\n" EP_MAIN "    sys.exit(app.run())\n");
	assert_content(f, "/usr/local/bin/demo-gui",
		       EP_HEAD "from demo.gui import start\n" EP_MAIN "    sys.exit(start())\n");
	assert_int_equal(mode_of(f, "/usr/local/bin/demo"), 0755);
	assert_false(exists(f, "/usr/local/bin/not-a-script"));
	record = slurp(f, PURELIB "/" DI "/RECORD");
	assert_non_null(strstr(record, "../../../bin/demo,"
				"sha256=YjS6D0SIipaBBR_w1hqKtc8EMskSsx3ltlt0np8T_KE,216\r\n"));
	assert_non_null(strstr(record, "\r\n../../../bin/demo-gui,sha256="));
	assert_non_null(strstr(record, "\r\n" DI "/entry_points.txt,sha256="));
	free(record);
	assert_string_equal(f->warnings, "");
}

static void assert_refused(struct fixture *f, const char *spec, int code, const char *msg_part)
{
	struct ml_error err = { 0 };
	int rc;

	make_wheel(f, spec);
	rc = install(f, NULL, &err);
	if (rc != -code || !strstr(err.msg, msg_part))
		fail_msg("%s: got %d '%s', want %d with '%s'", spec, rc, err.msg, -code, msg_part);
	assert_int_equal(dir_entries(f->outside), 0);
}

static void test_refused_members(void **state)
{
	/* libarchive turns a name without '/' such as "..\evil" into "../evil" when the
	 * zip says it was made on DOS, so backslashes are tested both ways */
	static const char *const bad[] = { "../evil", "/mldeploy-test-abs", "a/../../x",
					   "demo/a\\\\b.py", "..\\\\evil", "demo/./x.py",
					   "demo//x.py" };
	struct fixture *f = *state;
	char spec[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(spec, sizeof(spec), "{'files': [('demo/ok.py', 'ok'), ('%s', 'bad')]}",
			 bad[i]);
		assert_refused(f, spec, ML_EREFUSED, "refusing member");
		/* refused before anything is written */
		assert_int_equal(dir_entries(f->root), 0);
	}
	assert_int_equal(access("/mldeploy-test-abs", F_OK), -1);
	assert_int_equal(access("/tmp/evil", F_OK), -1);
	assert_refused(f, "{'files': [('demo/link', '../../outside', 0o120777)]}",
		       ML_EREFUSED, "'demo/link' (symlink)");
	assert_refused(f, "{'files': [('demo-1.0.data/unknown/x', 'x')]}", ML_EREFUSED,
		       "unknown demo-1.0.data directory");
	assert_refused(f, "{'files': [('demo-1.0.dist-info/entry_points.txt',"
		       " '[console_scripts]\\n../evil = demo:main\\n')]}",
		       ML_EREFUSED, "entry point script name '../evil'");
	assert_int_equal(dir_entries(f->root), 0);
}

static void test_record_checks(void **state)
{
	struct fixture *f = *state;

	assert_refused(f, "{'files': [('demo/a.py', 'a'), ('demo/b.py', 'b')],"
		       " 'tamper': {'demo/b.py': 'B'}}", ML_EDIGEST,
		       "'demo/b.py' does not match its RECORD hash");
	/* the file that failed its check is not left behind */
	assert_false(exists(f, PURELIB "/demo/b.py"));
	assert_refused(f, "{'files': [('demo/a.py', 'a'), ('demo/b.py', 'b')],"
		       " 'unrecorded': ['demo/b.py']}", ML_EDIGEST,
		       "'demo/b.py' is not in RECORD");
	assert_refused(f, "{'files': [('demo/a.py', 'a')],"
		       " 'extra_rows': [('demo/gone.py', 'sha256=AAAA', '1')]}", ML_EDIGEST,
		       "'demo/gone.py' is in RECORD but not in the wheel");
	assert_refused(f, "{'files': [('demo/a.py', 'a')], 'record': False}", ML_EDIGEST,
		       "no demo-1.0.dist-info/RECORD");
	assert_refused(f, "{'files': [('demo/a.py', 'a')],"
		       " 'extra_rows': [('demo/a.py', 'md5=AAAA', '1')]}", ML_EDIGEST,
		       "unsupported hash");
}

static void test_distinfo_checks(void **state)
{
	struct fixture *f = *state;

	assert_refused(f, "{'bare': True, 'record': False, 'files': [('demo/a.py', 'a')]}", ML_EPROTO,
		       "no .dist-info directory");
	assert_refused(f, "{'files': [('other-1.0.dist-info/METADATA', 'Name: other\\n')]}",
		       ML_EPROTO, "several .dist-info directories");
	assert_refused(f, "{'distinfo': 'other-1.0.dist-info', 'files': []}", ML_EPROTO,
		       "'other-1.0.dist-info' does not belong to project 'demo'");
	assert_refused(f, "{'files': [('demo-1.0.dist-info/WHEEL', 'Wheel-Version: 2.0\\n')]}",
		       ML_EPROTO, "unsupported Wheel-Version '2.0'");
	/* PEP 503 normalization: Demo_Pkg matches demo.pkg */
	make_wheel_at(f, f->wheel, "{'distinfo': 'Demo_Pkg-1.0.dist-info', 'files': []}");
	{
		struct ml_error err = { 0 };
		int rc = ml_wheel_install(f->wheel, "demo.pkg-1.0-py3-none-any.whl", &f->s,
					  NULL, &err);

		if (rc != 0)
			fail_msg("%s", err.msg);
	}
	assert_true(exists(f, PURELIB "/Demo_Pkg-1.0.dist-info/RECORD"));
}

static void test_planted_symlink(void **state)
{
	struct fixture *f = *state;
	char path[256], target[160];
	struct ml_error err = { 0 };

	snprintf(path, sizeof(path), "%s" PURELIB, f->root);
	assert_int_equal(ml_mkdirs(path, &err), 0);
	snprintf(path, sizeof(path), "%s" PURELIB "/demo", f->root);
	snprintf(target, sizeof(target), "%s", f->outside);
	assert_int_equal(symlink(target, path), 0);
	assert_refused(f, "{'files': [('demo/a.py', 'a')]}", ML_EREFUSED,
		       "is a symlink or not a directory");
	/* a planted symlink in place of a file is not followed either */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s" PURELIB "/demo/a.py", f->root);
	snprintf(target, sizeof(target), "%s/a.py", f->outside);
	assert_int_equal(symlink(target, path), 0);
	assert_refused(f, "{'files': [('demo/a.py', 'a')]}", ML_EREFUSED,
		       "is in the way and is not a regular file");
}

static void test_replace_and_utf8(void **state)
{
	struct fixture *f = *state;
	char other[192], *record;

	make_wheel(f, "{'files': [('shared/__init__.py', 'one'), ('demo/caf\\u00e9.txt', 'u')]}");
	install_ok(f, NULL);
	assert_content(f, PURELIB "/demo/caf\xc3\xa9.txt", "u");
	snprintf(other, sizeof(other), "%s/other-2.0-py3-none-any.whl", f->dir);
	make_wheel_at(f, other, "{'distinfo': 'other-2.0.dist-info', 'files': ["
		      "('other-2.0.dist-info/METADATA', 'Name: other\\nVersion: 2.0\\n'),"
		      " ('shared/__init__.py', 'two')]}");
	{
		struct ml_error err = { 0 };

		if (ml_wheel_install(other, "other-2.0-py3-none-any.whl", &f->s, NULL, &err) != 0)
			fail_msg("%s", err.msg);
	}
	assert_content(f, PURELIB "/shared/__init__.py", "two");
	assert_non_null(strstr(f->warnings, "replacing '" PURELIB "/shared/__init__.py'"));
	record = slurp(f, PURELIB "/" DI "/RECORD");
	assert_non_null(strstr(record, "\r\ndemo/caf\xc3\xa9.txt,sha256="));
	free(record);
}

static void test_read_meta(void **state)
{
	struct fixture *f = *state;
	struct ml_wheel_meta m;
	struct ml_error err = { 0 };
	int rc;

	make_wheel(f, "{'files': [('demo-1.0.dist-info/METADATA',"
		      " 'Metadata-Version: 2.1\\r\\nName: demo\\nVersion: 1.0\\n"
		      "Summary: a demo\\n  over two lines\\n"
		      "Requires-Python: >=3.8\\n"
		      "Requires-Dist: requests (>=2.0)\\n"
		      "Requires-Dist: rich;\\n\\textra == \"cli\"\\n"
		      "requires-dist: numpy>=1.20\\n"
		      "Provides-Extra: cli\\nProvides-Extra: test\\n"
		      "\\n"
		      "Requires-Dist: not-a-header\\nProvides-Extra: body\\n')]}");
	rc = ml_wheel_read_meta(f->wheel, WHEEL_NAME, &m, &err);
	if (rc != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(m.name, "demo");
	assert_string_equal(m.version, "1.0");
	assert_string_equal(m.requires_python, ">=3.8");
	assert_int_equal(m.nrequires_dist, 3);
	assert_string_equal(m.requires_dist[0], "requests (>=2.0)");
	assert_string_equal(m.requires_dist[1], "rich; extra == \"cli\"");
	assert_string_equal(m.requires_dist[2], "numpy>=1.20");
	assert_int_equal(m.nprovides_extra, 2);
	assert_string_equal(m.provides_extra[0], "cli");
	assert_string_equal(m.provides_extra[1], "test");
	ml_wheel_meta_dispose(&m);

	make_wheel(f, "{'files': [('demo-1.0.dist-info/METADATA', 'Name: demo\\nVersion: 1\\n')]}");
	assert_int_equal(ml_wheel_read_meta(f->wheel, WHEEL_NAME, &m, &err), 0);
	assert_null(m.requires_python);
	assert_int_equal(m.nrequires_dist, 0);
	ml_wheel_meta_dispose(&m);

	make_wheel(f, "{'files': [('demo-1.0.dist-info/METADATA', 'Name: demo\\n')]}");
	assert_int_equal(ml_wheel_read_meta(f->wheel, WHEEL_NAME, &m, &err), -ML_EPROTO);
	assert_non_null(strstr(err.msg, "lacks Name or Version"));
	make_wheel(f, "{'files': [('demo-1.0.dist-info/WHEEL', 'Wheel-Version: 3.1\\n')]}");
	assert_int_equal(ml_wheel_read_meta(f->wheel, WHEEL_NAME, &m, &err), -ML_EPROTO);
	assert_non_null(strstr(err.msg, "Wheel-Version"));
	assert_int_equal(ml_wheel_read_meta("/nonexistent.whl", NULL, &m, &err), -ML_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pure_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_platlib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scripts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_distinfo_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_and_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_meta, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
