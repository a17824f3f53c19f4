/* SPDX-License-Identifier: MIT */
/* fuzz_mailcf - libFuzzer target for the configuration files: main.cf
 * (core/mail/mail_conf.c: reading, $name expansion) and master.cf
 * (core/mail/master_ent.c).
 *
 * Input: up to three parts separated by NUL bytes: main.cf, master.cf,
 * a text to expand; a missing part is the first one again.  Both files
 * are written to a private configuration directory and read the way the
 * programs read them:
 *   - master_ent_read, then every helper on each entry;
 *   - master_ent_check_main ("postino check"); when it finds no syntax
 *     error, mail_conf_read must not find one either (a fatal error that
 *     names a file line then aborts: the two parsers disagree);
 *   - every parameter set in main.cf expanded with mail_conf_str, and the
 *     third part with mail_conf_expand, with and without an
 *     undefined-name callback.
 *
 * Some main.cf contents are fatal by design (a parameter that refers to
 * itself: "unreasonable macro call nesting").  msg_fatal jumps back here
 * (fuzz_fatal_jmp) and this file resets what the abandoned expansion
 * left behind; that is why it includes mail_conf.c itself, to reach the
 * module's private state (the tables of names being expanded and of
 * retired values).  The copy in the postino-mail library is then never
 * linked in: every symbol it defines is defined here first.  Leak
 * checking is off in this target: a jump out of msg_fatal leaks by
 * design. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "master_ent.h"

#include "mail/mail_conf.c"

#define FUZZ_MAX_INPUT	(64 * 1024)

const char *__asan_default_options(void);

/* __asan_default_options - see the module comment (leaks on fatal). */
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

static char main_cf[4096];
static char master_cf[4096];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	mail_conf_set_dir(fuzz_tmpdir());
	/* Built-in defaults until a main.cf is read (rebound then). */
	mail_vars_bind(MAIL_VARS_GLOBAL);
	snprintf(main_cf, sizeof(main_cf), "%s", fuzz_path("main.cf"));
	snprintf(master_cf, sizeof(master_cf), "%s", fuzz_path("master.cf"));
	return 0;
}

/* after_fatal - forget what an expansion abandoned by msg_fatal left. */
static void
after_fatal(void)
{
	if (busy_tab != NULL)
		htable_free(&busy_tab, NULL);
}

/* free_retired - nobody here keeps a value across a read: free them all
 * so that memory stays flat over millions of inputs. */
static void
free_retired(void)
{
	for (size_t i = 0; i < retired_count; i++)
		htable_free(&retired[i], free);
	retired_count = 0;
}

/* count_undefined - the mail_conf_expand callback. */
static void
count_undefined(const char *name, void *ctx)
{
	if (name == NULL || *name == 0)
		abort();
	(*(int *)ctx)++;
}

/* part - the n-th NUL-separated part (the first one when missing). */
static void
part(const uint8_t *data, size_t size, int n, const char **p_r, size_t *len_r)
{
	const uint8_t *p = data, *end = data + size, *nul;

	for (int i = 0; i < n; i++) {
		if ((nul = memchr(p, 0, (size_t)(end - p))) == NULL) {
			p = data;
			break;
		}
		p = nul + 1;
	}
	nul = memchr(p, 0, (size_t)(end - p));
	*p_r = (const char *)p;
	*len_r = nul ? (size_t)(nul - p) : (size_t)(end - p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jmp_buf jb;
	const char *p;
	size_t len;
	struct master_ent **ents;
	int errors, syntax_errors, undefined = 0;
	const char **names;
	char *text;
	volatile int read_ok = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	part(data, size, 0, &p, &len);
	fuzz_write(main_cf, p, len, 0644);
	part(data, size, 1, &p, &len);
	fuzz_write(master_cf, p, len, 0644);

	ents = master_ent_read(master_cf, &errors);
	if (ents == NULL)
		abort();
	syntax_errors = master_ent_check_main(main_cf, 1, ents);

	fuzz_fatal_jmp = &jb;
	fuzz_last_fatal[0] = 0;
	if (setjmp(jb) == 0) {
		if (syntax_errors == 0) {
			mail_conf_read(0);
			read_ok = 1;
		}
	} else {
		after_fatal();
		if (strstr(fuzz_last_fatal, ", line ") != NULL)
			abort();		/* check_main saw no such error */
	}
	if (read_ok) {
		names = mail_conf_set_names();
		for (volatile size_t i = 0; names[i] != NULL; i++) {
			if (setjmp(jb) == 0) {
				if (mail_conf_raw(names[i]) == NULL
				    || !mail_conf_is_set(names[i]))
					abort();
				(void)mail_conf_str(names[i]);
			} else {
				after_fatal();
			}
		}
		free(names);
	}
	/* master.cf helpers read main.cf parameters: after the read. */
	for (volatile size_t i = 0; ents[i] != NULL; i++) {
		if (setjmp(jb) == 0) {
			char *key = master_ent_key(ents[i]);

			if (ents[i]->argc < 0 || ents[i]->args == NULL
			    || ents[i]->args[ents[i]->argc] != NULL)
				abort();
			(void)master_ent_disabled(ents[i]);
			(void)master_ent_embedded(ents[i]);
			if (master_ent_maxproc(ents[i]) < 0)
				abort();
			(void)master_type_name(ents[i]->type);
			free(key);
		} else {
			after_fatal();
		}
	}
	part(data, size, 2, &p, &len);
	text = xstrndup(p, len);
	if (setjmp(jb) == 0)
		free(mail_conf_expand(text, count_undefined, &undefined));
	else
		after_fatal();
	if (setjmp(jb) == 0)
		free(mail_conf_expand(text, NULL, NULL));
	else
		after_fatal();
	free(text);
	fuzz_fatal_jmp = NULL;
	master_ent_free_all(&ents);
	new_generation();
	free_retired();
	return 0;
}
