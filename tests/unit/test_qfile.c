/* SPDX-License-Identifier: MIT */
/* test_qfile - queue files (core/mail/qfile.c) and queue directories
 * (mail_queue.c): IDs, write/read round trip with a large streamed
 * content record, refusal of incomplete, truncated and garbage files,
 * the in-place done mark, and durable moves. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "htable.h"
#include "mail_conf.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"
#include "unit.h"

static void
test_ids(void **state)
{
	struct htable *seen = htable_create(4096);

	for (int i = 0; i < 20000; i++) {
		const char *id = qfile_new_id();

		if (strspn(id, "0123456789ABCDEF") != strlen(id) || strlen(id) < 20)
			UNIT_FAILF("bad id \"%s\"", id);
		if (htable_find(seen, id))
			UNIT_FAILF("duplicate id \"%s\"", id);
		htable_enter(seen, id, seen);
	}
	htable_free(&seen, NULL);
}

/* write_sample - a complete queue file in dir; returns its path. */
static char *
write_sample(const char *dir, size_t content_len, off_t *roff)
{
	const char *id;
	struct qfile_writer *w = qfile_create(dir, &id);
	char *path;
	char chunk[1000];

	assert_non_null(w);
	assert_string_equal(id, qfile_writer_id(w));
	assert_int_equal(qfile_put_str(w, QREC_VERSION, "1"), 0);
	assert_int_equal(qfile_put_str(w, QREC_TIME, "1700000000.250000"), 0);
	assert_int_equal(qfile_put_str(w, QREC_ATTR, "client_address=192.0.2.1"), 0);
	assert_int_equal(qfile_put_str(w, QREC_SENDER, "s@example.com"), 0);
	assert_int_equal(qfile_put_rcpt(w, DSN_NOTIFY_FAILURE, "o;dd%x@y",
	    "a;b@example.com", &roff[0]), 0);
	assert_int_equal(qfile_put_rcpt(w, 0, "", "c@example.com", &roff[1]), 0);
	assert_int_equal(qfile_content_begin(w), 0);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	for (size_t done = 0; done < content_len; ) {
		size_t n = content_len - done < sizeof(chunk) ? content_len - done
		    : sizeof(chunk);

		assert_int_equal(qfile_content_write(w, chunk, n), 0);
		done += n;
	}
	assert_int_equal(qfile_content_end(w), 0);
	path = xstrdup(qfile_writer_path(w));
	assert_int_equal(qfile_finish(w, NULL), 0);
	qfile_writer_free(&w);
	return path;
}

static void
test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 10, 300 * 1024, 3 * 1024 * 1024 + 7 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		off_t roff[2];
		char *path = write_sample(unit_tmpdir(), sizes[s], roff);
		const char *err;
		struct qfile_msg *m = qfile_read(path, &err);
		struct stat st;
		char buf[16];
		int fd;

		if (m == NULL)
			UNIT_FAILF("size %zu: %s", sizes[s], err);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		assert_string_equal(m->sender, "s@example.com");
		assert_true(m->arrival > 1700000000.2 && m->arrival < 1700000000.3);
		assert_string_equal(qfile_msg_attr(m, "client_address"), "192.0.2.1");
		assert_int_equal(m->rcpt_count, 2);
		assert_string_equal(m->rcpt[0].orig_rcpt, "o;dd%x@y");
		assert_string_equal(m->rcpt[0].address, "a;b@example.com");
		assert_int_equal(m->rcpt[0].dsn_notify, DSN_NOTIFY_FAILURE);
		assert_int_equal(m->rcpt[0].offset, roff[0]);
		assert_int_equal(m->rcpt[1].offset, roff[1]);
		assert_int_equal(m->content_len, (off_t)sizes[s]);
		/* The content offset points at the streamed bytes. */
		fd = open(path, O_RDONLY);
		if (sizes[s] >= 10) {
			assert_int_equal(pread(fd, buf, 3, m->content_offset), 3);
			assert_memory_equal(buf, "abc", 3);
		}
		close(fd);

		/* Mark the first recipient done, in place. */
		assert_int_equal(qfile_mark_done(path, &roff[0], 1), 0);
		qfile_msg_free(&m);
		m = qfile_read(path, &err);
		assert_non_null(m);
		assert_true(m->rcpt[0].done);
		assert_false(m->rcpt[1].done);
		qfile_msg_free(&m);
		/* An offset that is not a recipient record is refused. */
		{
			off_t bad = 0;

			assert_int_equal(qfile_mark_done(path, &bad, 1), -1);
		}
		unlink(path);
		free(path);
	}
}

/* expect_refused - qfile_read(path) fails with a reason containing text. */
static void
expect_refused(const char *path, const char *text)
{
	const char *err;
	struct qfile_msg *m = qfile_read(path, &err);

	if (m != NULL)
		UNIT_FAILF("%s: accepted, expected \"%s\"", path, text);
	if (strstr(err, text) == NULL)
		UNIT_FAILF("%s: reason \"%s\", expected \"%s\"", path, err, text);
}

static void
test_refused(void **state)
{
	off_t roff[2];
	char *path = write_sample(unit_tmpdir(), 5000, roff);
	char *copy = concatenate(unit_tmpdir(), "/copy", (char *)0);
	struct stat st;
	char *data;
	int fd;

	assert_int_equal(stat(path, &st), 0);
	data = xmalloc((size_t)st.st_size);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);

	/* Every truncation is refused. */
	for (off_t len = 0; len < st.st_size; len += (len < 200 ? 1 : 97)) {
		unlink(copy);
		fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0700);
		assert_int_equal(write(fd, data, (size_t)len), len);
		fchmod(fd, 0700);
		close(fd);
		{
			const char *err;
			struct qfile_msg *m = qfile_read(copy, &err);

			if (m != NULL)
				UNIT_FAILF("truncated to %lld: accepted", (long long)len);
		}
	}
	/* Not mode 0700: still being written. */
	chmod(path, 0600);
	expect_refused(path, "incomplete");
	chmod(path, 0700);

	/* Flip each byte of the envelope: never a crash, and an unknown
	 * type or bad length is refused. */
	for (off_t i = 0; i < 120 && i < st.st_size; i++) {
		unlink(copy);
		fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0700);
		data[i] ^= 0x5a;
		assert_int_equal(write(fd, data, (size_t)st.st_size), st.st_size);
		data[i] ^= 0x5a;
		fchmod(fd, 0700);
		close(fd);
		{
			const char *err;
			struct qfile_msg *m = qfile_read(copy, &err);

			qfile_msg_free(&m);
		}
	}
	/* Specific garbage. */
	{
		static const struct {
			const char *bytes;
			size_t len;
			const char *why;
		} cases[] = {
			{ "", 0, "missing end" },
			{ "X\0\0\0\0", 5, "version" },
			{ "V\0\0\0\0011E\0\0\0\0", 11, "missing time" },
			{ "V\0\0\0\0011Z\0\0\0\0", 11, "unknown record type" },
			{ "V\0\0\0\0011T\xff\xff\xff\xff", 11, "past the end" },
			{ "V\0\0\0\0011E\0\0\0\0E\0\0\0\0", 16, "after the end" },
			{ "V\0\0\0\0012", 6, "version" },
			{ "V\0\0\0\0011S\0\0\0\003a\0b", 14, "NUL" },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			unlink(copy);
			fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0700);
			assert_int_equal(write(fd, cases[i].bytes, cases[i].len),
			    (ssize_t)cases[i].len);
			fchmod(fd, 0700);
			close(fd);
			expect_refused(copy, cases[i].why);
		}
	}
	/* A symlink is not followed; a directory is not a queue file. */
	unlink(copy);
	assert_int_equal(symlink(path, copy), 0);
	expect_refused(copy, "open");
	expect_refused(unit_tmpdir(), "regular");
	unlink(copy);
	unlink(path);
	free(data);
	free(copy);
	free(path);
}

static void
test_abort(void **state)
{
	const char *id;
	struct qfile_writer *w = qfile_create(unit_tmpdir(), &id);
	char *path = xstrdup(qfile_writer_path(w));
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(qfile_put_str(w, QREC_VERSION, "1"), 0);
	/* Records other than content wait for a content record to end. */
	assert_int_equal(qfile_content_begin(w), 0);
	assert_int_equal(qfile_put_str(w, QREC_SENDER, "x"), -1);
	qfile_abort(&w);
	assert_null(w);
	assert_int_equal(stat(path, &st), -1);
	/* A record over the limit is refused. */
	w = qfile_create(unit_tmpdir(), &id);
	{
		char *big = xcalloc(1, QFILE_MAX_RECORD + 1);

		assert_int_equal(qfile_put(w, QREC_ATTR, big, QFILE_MAX_RECORD + 1), -1);
		assert_int_equal(errno, EFBIG);
		free(big);
	}
	qfile_abort(&w);
	/* No directory: NULL with errno. */
	assert_null(qfile_create("/nonexistent/dir", &id));
	assert_int_equal(errno, ENOENT);
	free(path);
}

static void
test_queue_dirs(void **state)
{
	char *top = concatenate(unit_tmpdir(), "/q", (char *)0);
	const char *inc, *hold;
	char *p;
	int fd;

	mail_conf_override("queue_directory", top);
	mail_vars_bind(MAIL_VARS_GLOBAL);
	mkdir(top, 0700);
	for (int i = 0; mail_queue_names[i]; i++) {
		p = concatenate(top, "/", mail_queue_names[i], (char *)0);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	inc = mail_queue_dir(MAIL_QUEUE_INCOMING);
	hold = mail_queue_dir(MAIL_QUEUE_HOLD);
	p = concatenate(top, "/incoming", (char *)0);
	assert_string_equal(inc, p);
	free(p);
	assert_true(inc != hold);
	assert_ptr_equal(inc, mail_queue_dir(MAIL_QUEUE_INCOMING));
	p = mail_queue_path(MAIL_QUEUE_INCOMING, "ABC");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mail_queue_sync_dir(MAIL_QUEUE_INCOMING), 0);
	assert_int_equal(mail_queue_move(MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD, "ABC"), 0);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	p = mail_queue_path(MAIL_QUEUE_HOLD, "ABC");
	assert_int_equal(access(p, F_OK), 0);
	free(p);
	assert_int_equal(mail_queue_move(MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD, "ABC"), -1);
	assert_int_equal(errno, ENOENT);
	free(top);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_queue_dirs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
