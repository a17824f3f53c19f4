/* SPDX-License-Identifier: MIT */
/* smtp_generic - smtp_generic_maps (lmtp_generic_maps for lmtp),
 * generic(5): addresses rewritten as mail leaves, typically to turn a
 * local address (joe@localdomain.local) into one that is valid on the
 * Internet.  The envelope sender and recipients of each transaction and
 * the addresses in the sender and recipient headers (From, To, Cc,
 * Reply-To, ...; core/mail/hdr_addr.c) are looked up once each, in the
 * order generic(5) gives: user+ext@domain, user@domain, user+ext and
 * user (local domains only), @domain.  A result "@otherdomain" keeps the
 * user; a result without "@" gets "@$myorigin" (append_at_myorigin); an
 * unmatched extension goes along when propagate_unmatched_extensions
 * has "generic"; of a list of results the first counts (with a
 * warning).  The null sender is never rewritten.  A table that fails
 * defers the delivery. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr_addr.h"
#include "mail_addr_find.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "map.h"
#include "maps.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"

static struct maps generic_maps;
static int generic_propagate;

void
smtp_generic_init(void)
{
	const char *value = smtp_conf.lmtp ? var_lmtp_generic_maps
	    : var_smtp_generic_maps;
	char *copy, *cp, *word;

	maps_close(&generic_maps);
	maps_open(&generic_maps, smtp_conf.lmtp ? MAIL_PARAM_NAME(lmtp_generic_maps)
	    : MAIL_PARAM_NAME(smtp_generic_maps), value ? value : "");
	copy = xstrdup(var_propagate_unmatched_extensions);
	cp = copy;
	generic_propagate = 0;
	while ((word = mystrtok(&cp, ", \t\r\n")) != NULL)
		if (strcasecmp(word, "generic") == 0)
			generic_propagate = 1;
	free(copy);
}

int
smtp_generic_active(void)
{
	return generic_maps.count > 0;
}

/* lookup - the first table answer for the forms of addr, in generic(5)
 * order; the form that matched in *matched_r. */
static enum map_status
lookup(const char *addr, const char **value_r, char **matched_r)
{
	struct mail_addr_forms *forms = mail_addr_forms(addr, "virtual");
	enum map_status st = MAP_NOTFOUND;
	struct map *bad;

	*matched_r = NULL;
	for (int f = 0; forms && f < forms->count && st == MAP_NOTFOUND; f++) {
		st = maps_find(&generic_maps, forms->form[f], !forms->full_only[f],
		    value_r, &bad);
		if (st == MAP_FOUND && **value_r == 0)
			st = MAP_NOTFOUND;
		if (st == MAP_FOUND)
			*matched_r = xstrdup(forms->form[f]);
		if (st == MAP_TEMPFAIL)
			msg_warn("%s: lookup of %s failed: %s", generic_maps.param, addr,
			    bad ? map_reason(bad) : "table not available");
	}
	mail_addr_forms_free(&forms);
	return st;
}

char *
smtp_generic_addr(const char *addr)
{
	const char *value, *at = strrchr(addr, '@');
	char *matched, *first, *local, *result;
	int ext;

	if (generic_maps.count == 0 || *addr == 0)
		return xstrdup(addr);
	switch (lookup(addr, &value, &matched)) {
	case MAP_NOTFOUND:
		return xstrdup(addr);
	case MAP_TEMPFAIL:
		return NULL;
	case MAP_FOUND:
		break;
	}
	first = xstrndup(value, strcspn(value, ", \t\r\n"));
	if (value[strcspn(value, ", \t\r\n")] != 0)
		msg_warn("%s: multi-valued entry for %s: using %s only",
		    generic_maps.param, addr, first);
	local = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	if (first[0] == '@') {
		result = concatenate(local, first, (char *)0);
	} else if (strchr(first, '@') == NULL && var_append_at_myorigin) {
		result = concatenate(first, "@", var_myorigin, (char *)0);
	} else {
		result = xstrdup(first);
	}
	/* An extension the table did not match goes along when asked. */
	ext = mail_addr_split_ext(local, var_recipient_delimiter);
	if (generic_propagate && ext >= 0 && first[0] != '@'
	    && strcasecmp(matched, addr) != 0 && strcasecmp(matched, local) != 0) {
		char *with = mail_addr_insert_ext(result, local + ext);

		free(result);
		result = with;
	}
	free(local);
	free(first);
	free(matched);
	return result;
}

/* header_addr - hdr_addr_fn: smtp_generic_addr. */
static char *
header_addr(void *ctx, const char *addr, int sender)
{
	(void)ctx;
	(void)sender;
	return smtp_generic_addr(addr);
}

char *
smtp_generic_header(const char *text, int *fail_r)
{
	if (generic_maps.count == 0) {
		*fail_r = 0;
		return NULL;
	}
	return hdr_addr_rewrite(text, NULL, header_addr, NULL, fail_r);
}
