/* SPDX-License-Identifier: MIT */
/* test_smtp_mime - the 8BITMIME downgrade of the smtp client: 8-bit
 * leaf parts become quoted-printable, containers are walked, 7-bit and
 * base64 parts and non-MIME messages are left alone. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "smtp.h"
#include "unit.h"

static char *
down(const char *in)
{
	struct buf *b = smtp_mime_downgrade(in, strlen(in));
	char *s = strdup(buf_str(b));

	buf_free(&b);
	return s;
}

static void
test_single_part(void **state)
{
	char *out;

	(void)state;
	out = down("MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "Subject: caf\xc3\xa9\n"
	    "\n"
	    "caf\xc3\xa9 = 1 \n"
	    "plain line\n");
	assert_string_equal(out, "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "Subject: caf\xc3\xa9\n"
	    "\n"
	    "caf=C3=A9 =3D 1=20\n"
	    "plain line\n");
	free(out);
	/* No Content-Transfer-Encoding at all: one is added. */
	out = down("MIME-Version: 1.0\n\n\xff\n");
	assert_string_equal(out, "MIME-Version: 1.0\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=FF\n");
	free(out);
}

static void
test_long_line(void **state)
{
	char in[400], *out, *line, *save = NULL;

	(void)state;
	strcpy(in, "MIME-Version: 1.0\n\n");
	for (int i = 0; i < 100; i++)
		strcat(in, "\xc3\xa9");
	strcat(in, "\n");
	out = down(in);
	assert_non_null(strstr(out, "=\n"));
	/* Soft breaks keep every encoded line within 76 characters. */
	for (line = strtok_r(strstr(out, "\n\n") + 2, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save))
		assert_true(strlen(line) <= 76);
	free(out);
}

static void
test_multipart(void **state)
{
	char *out;

	(void)state;
	out = down("MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "preamble\n"
	    "--XX\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "ascii only\n"
	    "--XX\n"
	    "Content-Type: text/plain; charset=latin1\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "\xe9t\xe9\n"
	    "--XX\n"
	    "Content-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAAA\n"
	    "--XX--\n"
	    "epilogue\n");
	assert_string_equal(out, "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	    "Content-Transfer-Encoding: 7bit\n"
	    "\n"
	    "preamble\n"
	    "--XX\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "ascii only\n"
	    "--XX\n"
	    "Content-Type: text/plain; charset=latin1\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "=E9t=E9\n"
	    "--XX\n"
	    "Content-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAAA\n"
	    "--XX--\n"
	    "epilogue\n");
	free(out);
}

static void
test_left_alone(void **state)
{
	static const char *const same[] = {
		/* not MIME */
		"Subject: x\n\n\xe9t\xe9\n",
		/* 7-bit */
		"MIME-Version: 1.0\n\nhello = world\n",
		/* binary is not ours to change */
		"MIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n\xe9\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char *out = down(same[i]);

		assert_string_equal(out, same[i]);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
