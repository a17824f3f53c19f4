/* SPDX-License-Identifier: MIT */
/* pipe_argv - the macros of pipe(8)'s argv= ($name, ${name}, $(name),
 * $$ for one '$') and their expansion for one delivery request.
 *
 * An argument that uses a recipient macro (recipient,
 * original_recipient, user, extension, mailbox, domain) becomes one
 * argument per recipient of the request, in request order; any other
 * argument stays one argument.  The values are never split or given to
 * a shell: each expanded argument is exactly one argv element.
 *
 * Flags: h folds the domain part of $recipient and $original_recipient
 * and all of $domain and $nexthop to lower case; u folds their local
 * part and $user, $extension, $mailbox; q quotes the local part of
 * $sender, $recipient and $original_recipient as RFC 5321 writes it
 * ("a b"@x) -- the empty sender given as an empty null_sender= stays
 * empty.  $user and $extension split the local part at the first
 * recipient_delimiter character (not the "owner-" / "-request" names of
 * a '-' delimiter, as Postfix).  Addresses arrive as the envelope has
 * them (a quoted local part quoted); the macros work on the internal
 * (unquoted) form, as Postfix's. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "addr_parse.h"
#include "buf.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "pipe.h"
#include "stringops.h"

enum macro {
	M_CLIENT_ADDRESS, M_CLIENT_HELO, M_CLIENT_HOSTNAME, M_CLIENT_PORT,
	M_CLIENT_PROTOCOL, M_DOMAIN, M_EXTENSION, M_MAILBOX, M_NEXTHOP,
	M_ORIGINAL_RECIPIENT, M_QUEUE_ID, M_RECIPIENT, M_SASL_METHOD,
	M_SASL_SENDER, M_SASL_USERNAME, M_SENDER, M_SIZE, M_USER,
};

static const struct {
	const char *name;
	enum macro id;
	int per_rcpt;
	int needs;
} macros[] = {
	{"client_address", M_CLIENT_ADDRESS, 0, 0},
	{"client_helo", M_CLIENT_HELO, 0, 0},
	{"client_hostname", M_CLIENT_HOSTNAME, 0, 0},
	{"client_port", M_CLIENT_PORT, 0, PIPE_NEED_QFILE},
	{"client_protocol", M_CLIENT_PROTOCOL, 0, 0},
	{"domain", M_DOMAIN, 1, 0},
	{"extension", M_EXTENSION, 1, 0},
	{"mailbox", M_MAILBOX, 1, 0},
	{"nexthop", M_NEXTHOP, 0, 0},
	{"original_recipient", M_ORIGINAL_RECIPIENT, 1, 0},
	{"queue_id", M_QUEUE_ID, 0, 0},
	{"recipient", M_RECIPIENT, 1, 0},
	{"sasl_method", M_SASL_METHOD, 0, PIPE_NEED_QFILE},
	{"sasl_sender", M_SASL_SENDER, 0, PIPE_NEED_QFILE},
	{"sasl_username", M_SASL_USERNAME, 0, PIPE_NEED_QFILE},
	{"sender", M_SENDER, 0, 0},
	{"size", M_SIZE, 0, PIPE_NEED_SIZE},
	{"user", M_USER, 1, 0},
};

#define NMACROS	(sizeof(macros) / sizeof(macros[0]))

static int
is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_';
}

/* One piece of a parsed argument: text, or a macro. */
struct piece {
	const char *text;	/* literal text (not NUL-terminated) */
	size_t len;
	int macro;		/* index into macros[], -1 for text */
};

/* parse_arg - split arg into pieces; count in *n_r.  -1 with *err_r on
 * a syntax error or an unknown name.  pieces may be NULL (check only). */
static int
parse_arg(const char *arg, struct piece *pieces, int *n_r, const char **err_r)
{
	const char *cp = arg;
	int n = 0;

	while (*cp) {
		const char *start = cp, *name, *end;
		size_t nlen;
		int m;

		if (*cp != '$') {
			while (*cp && *cp != '$')
				cp++;
			if (pieces) {
				pieces[n].text = start;
				pieces[n].len = (size_t)(cp - start);
				pieces[n].macro = -1;
			}
			n++;
			continue;
		}
		cp++;
		if (*cp == '$') {
			if (pieces) {
				pieces[n].text = cp;
				pieces[n].len = 1;
				pieces[n].macro = -1;
			}
			n++;
			cp++;
			continue;
		}
		if (*cp == '{' || *cp == '(') {
			char close = *cp == '{' ? '}' : ')';

			name = ++cp;
			while (is_name_char((unsigned char)*cp))
				cp++;
			end = cp;
			if (*cp == '?' || *cp == ':') {
				*err_r = "conditional macros (${name?text}, ${name:text}) are not supported in argv=";
				return -1;
			}
			if (*cp != close) {
				*err_r = "unterminated or malformed macro";
				return -1;
			}
			cp++;
		} else {
			name = cp;
			while (is_name_char((unsigned char)*cp))
				cp++;
			end = cp;
		}
		nlen = (size_t)(end - name);
		if (nlen == 0) {
			*err_r = "'$' without a macro name (write $$ for a '$')";
			return -1;
		}
		for (m = 0; m < (int)NMACROS; m++)
			if (strlen(macros[m].name) == nlen
			    && strncmp(macros[m].name, name, nlen) == 0)
				break;
		if (m == (int)NMACROS) {
			*err_r = "unknown macro (see pipe(8) for the names)";
			return -1;
		}
		if (pieces) {
			pieces[n].text = NULL;
			pieces[n].len = 0;
			pieces[n].macro = m;
		}
		n++;
	}
	*n_r = n;
	return 0;
}

int
pipe_argv_check(const char *arg, int *needs_r, const char **err_r)
{
	struct piece *pieces;
	int n;

	if (parse_arg(arg, NULL, &n, err_r) < 0)
		return -1;
	pieces = xcalloc((size_t)n + 1, sizeof(*pieces));
	(void)parse_arg(arg, pieces, &n, err_r);
	for (int i = 0; i < n; i++)
		if (pieces[i].macro >= 0)
			*needs_r |= macros[pieces[i].macro].needs;
	free(pieces);
	return 0;
}

/* fold - lower-case ASCII letters of s[0..len). */
static void
fold(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* address - a recipient or original recipient, folded and quoted per the
 * flags; malloc'd. */
static char *
address(const char *addr)
{
	char *copy = addr_parse_internalize(addr), *at = strrchr(copy, '@');
	size_t local_len = at ? (size_t)(at - copy) : strlen(copy);

	if (pipe_attr.flags & PIPE_FLAG_FOLD_USER)
		fold(copy, local_len);
	if (at && (pipe_attr.flags & PIPE_FLAG_FOLD_HOST))
		fold(at + 1, strlen(at + 1));
	if (pipe_attr.flags & PIPE_FLAG_QUOTE) {
		char *q = addr_parse_externalize(copy);

		free(copy);
		copy = q;
	}
	return copy;
}

/* local_split - user and extension of a local part (delimiters from
 * recipient_delimiter); *ext_r NULL when there is none. */
static void
local_split(char *local, char **ext_r)
{
	const char *delims = var_recipient_delimiter;
	char *cp;

	*ext_r = NULL;
	if (delims == NULL || *delims == 0 || *local == 0)
		return;
	if (strchr(delims, '-') != NULL) {
		size_t len = strlen(local);

		if (strncasecmp(local, "owner-", 6) == 0
		    || (len > 8 && strcasecmp(local + len - 8, "-request") == 0))
			return;
	}
	cp = local + strcspn(local, delims);
	if (*cp && cp != local) {
		*cp = 0;
		*ext_r = cp + 1;
	}
}

/* put_value - the value of macro m for recipient index (-1: none). */
static void
put_value(struct buf *out, const struct pipe_macros *pm, int m, int index)
{
	const struct deliver_request *dr = pm->dr;
	const struct deliver_rcpt *r = index >= 0 ? dr->rcpt + index : NULL;
	const char *v = NULL;
	char *tmp = NULL;

	switch (macros[m].id) {
	case M_CLIENT_ADDRESS:
		v = dr->client_address;
		break;
	case M_CLIENT_HELO:
		v = dr->client_helo;
		break;
	case M_CLIENT_HOSTNAME:
		v = dr->client_name;
		break;
	case M_CLIENT_PORT:
		v = pm->client_port;
		break;
	case M_CLIENT_PROTOCOL:
		v = dr->client_protocol;
		break;
	case M_QUEUE_ID:
		v = dr->queue_id;
		break;
	case M_SASL_METHOD:
		v = pm->sasl_method;
		break;
	case M_SASL_SENDER:
		v = pm->sasl_sender;
		break;
	case M_SASL_USERNAME:
		v = pm->sasl_username;
		break;
	case M_SIZE:
		v = pm->size;
		break;
	case M_NEXTHOP:
		tmp = xstrdup(dr->nexthop);
		if (pipe_attr.flags & PIPE_FLAG_FOLD_HOST)
			fold(tmp, strlen(tmp));
		break;
	case M_SENDER:
		tmp = addr_parse_internalize(pm->sender);
		if ((pipe_attr.flags & PIPE_FLAG_QUOTE) && *tmp) {
			char *q = addr_parse_externalize(tmp);

			free(tmp);
			tmp = q;
		}
		break;
	case M_RECIPIENT:
		tmp = address(r->address);
		break;
	case M_ORIGINAL_RECIPIENT:
		tmp = address(*r->orig_rcpt ? r->orig_rcpt : r->address);
		break;
	case M_DOMAIN: {
		char *addr = addr_parse_internalize(r->address);
		const char *at = strrchr(addr, '@');

		tmp = xstrdup(at ? at + 1 : "");
		free(addr);
		if (pipe_attr.flags & PIPE_FLAG_FOLD_HOST)
			fold(tmp, strlen(tmp));
		break;
	}
	case M_MAILBOX:
	case M_USER:
	case M_EXTENSION: {
		char *addr = addr_parse_internalize(r->address);
		const char *at = strrchr(addr, '@');
		char *ext;

		tmp = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
		free(addr);
		if (pipe_attr.flags & PIPE_FLAG_FOLD_USER)
			fold(tmp, strlen(tmp));
		if (macros[m].id == M_MAILBOX)
			break;
		local_split(tmp, &ext);
		if (macros[m].id == M_EXTENSION)
			memmove(tmp, ext ? ext : "", strlen(ext ? ext : "") + 1);
		break;
	}
	}
	buf_puts(out, tmp ? tmp : v ? v : "");
	free(tmp);
}

char **
pipe_argv_expand(const struct pipe_macros *pm)
{
	struct buf *out = buf_new(256, 0);
	char **argv = NULL;
	size_t count = 0;

	for (int a = 0; a < pipe_attr.argc; a++) {
		const char *arg = pipe_attr.argv[a], *err;
		struct piece *pieces;
		int n = 0, per_rcpt = 0, rounds;

		(void)parse_arg(arg, NULL, &n, &err);
		pieces = xcalloc((size_t)n + 1, sizeof(*pieces));
		(void)parse_arg(arg, pieces, &n, &err);
		for (int i = 0; i < n; i++)
			if (pieces[i].macro >= 0 && macros[pieces[i].macro].per_rcpt)
				per_rcpt = 1;
		rounds = per_rcpt ? pm->dr->rcpt_count : 1;
		for (int r = 0; r < rounds; r++) {
			buf_reset(out);
			for (int i = 0; i < n; i++) {
				if (pieces[i].macro < 0)
					buf_append(out, pieces[i].text, pieces[i].len);
				else
					put_value(out, pm, pieces[i].macro,
					    per_rcpt ? r : -1);
			}
			argv = xreallocarray(argv, count + 2, sizeof(*argv));
			argv[count++] = xstrdup(buf_str(out));
			argv[count] = NULL;
		}
		free(pieces);
	}
	buf_free(&out);
	return argv;
}

void
pipe_argv_free(char ***argvp)
{
	char **argv = *argvp;

	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	*argvp = NULL;
}
