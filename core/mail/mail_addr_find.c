/* SPDX-License-Identifier: MIT */
/* mail_addr_find - address key forms per search strategy (see .h). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_addr_find.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "stringops.h"

static const char *const strategies[] = {
	"virtual", "access", "local", "mailbox", "recipient", "transport", NULL,
};

const char *
mail_addr_strategies(void)
{
	return "virtual, access, local, mailbox, recipient, transport";
}

int
mail_addr_split_ext(const char *localpart, const char *delimiters)
{
	size_t len = strlen(localpart), pos;

	if (delimiters == NULL || *delimiters == 0)
		return -1;
	if (strcasecmp(localpart, "postmaster") == 0
	    || strcasecmp(localpart, "mailer-daemon") == 0)
		return -1;
	if (strncasecmp(localpart, "owner-", 6) == 0
	    || (len > 8 && strcasecmp(localpart + len - 8, "-request") == 0))
		return -1;
	pos = strcspn(localpart, delimiters);
	if (pos == len || pos == 0)
		return -1;
	return (int)pos;
}

/* in_list - is name (case-insensitive) one of the plain names in list? */
static int
in_list(const char *name, const char *list)
{
	char *copy = xstrdup(list), *cp = copy, *item;
	int found = 0;

	while ((item = mystrtok(&cp, ", \t\r\n")) != NULL)
		if (strcasecmp(item, name) == 0) {
			found = 1;
			break;
		}
	free(copy);
	return found;
}

static int
domain_is_local(const char *domain)
{
	return strcasecmp(domain, var_myorigin) == 0
	    || in_list(domain, var_mydestination);
}

static void
add(struct mail_addr_forms *f, char *form, int full)
{
	for (int i = 0; i < f->count; i++) {
		if (strcmp(f->form[i], form) == 0) {
			free(form);
			return;
		}
	}
	f->form = xreallocarray(f->form, (size_t)f->count + 1, sizeof(*f->form));
	f->full_only = xreallocarray(f->full_only, (size_t)f->count + 1,
	    sizeof(*f->full_only));
	f->form[f->count] = form;
	f->full_only[f->count] = full;
	f->count++;
}

struct mail_addr_forms *
mail_addr_forms(const char *addr, const char *strategy)
{
	struct mail_addr_forms *f;
	const char *at = strrchr(addr, '@');
	char *local = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	const char *domain = at ? at + 1 : "";
	char *base = NULL;
	int ext, s;

	for (s = 0; strategies[s]; s++)
		if (strcmp(strategies[s], strategy) == 0)
			break;
	if (strategies[s] == NULL) {
		free(local);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	ext = mail_addr_split_ext(local, var_recipient_delimiter);
	if (ext >= 0)
		base = xstrndup(local, (size_t)ext);

	if (strcmp(strategy, "local") == 0) {
		add(f, xstrdup(local), 1);
		if (base)
			add(f, xstrdup(base), 0);
		goto done;
	}
	add(f, xstrdup(addr), 1);
	if (base && at)
		add(f, concatenate(base, "@", domain, (char *)0), 0);
	if (!at) {
		if (base)
			add(f, xstrdup(base), 0);
		goto done;
	}
	if (strcmp(strategy, "virtual") == 0) {
		if (domain_is_local(domain)) {
			add(f, xstrdup(local), 0);
			if (base)
				add(f, xstrdup(base), 0);
		}
		add(f, concatenate("@", domain, (char *)0), 0);
	} else if (strcmp(strategy, "mailbox") == 0) {
		add(f, concatenate("@", domain, (char *)0), 0);
	} else if (strcmp(strategy, "recipient") == 0) {
		add(f, xstrdup(local), 0);
		if (base)
			add(f, xstrdup(base), 0);
		add(f, concatenate("@", domain, (char *)0), 0);
	} else if (strcmp(strategy, "access") == 0
	    || strcmp(strategy, "transport") == 0) {
		int parent_style = strcmp(strategy, "access") == 0
		    && in_list("smtpd_access_maps",
			var_parent_domain_matches_subdomains);

		add(f, xstrdup(domain), 0);
		for (const char *dot = strchr(domain, '.'); dot;
		    dot = strchr(dot + 1, '.'))
			add(f, xstrdup(parent_style ? dot + 1 : dot), 0);
		if (strcmp(strategy, "access") == 0) {
			add(f, concatenate(local, "@", (char *)0), 0);
			if (base)
				add(f, concatenate(base, "@", (char *)0), 0);
		} else {
			add(f, xstrdup("*"), 0);
		}
	}
done:
	free(local);
	free(base);
	return f;
}

void
mail_addr_forms_free(struct mail_addr_forms **formsp)
{
	struct mail_addr_forms *f = *formsp;

	if (f == NULL)
		return;
	for (int i = 0; i < f->count; i++)
		free(f->form[i]);
	free(f->form);
	free(f->full_only);
	free(f);
	*formsp = NULL;
}

char *
mail_addr_insert_ext(const char *addr, const char *ext)
{
	const char *at = strrchr(addr, '@');
	size_t before = at ? (size_t)(at - addr) : strlen(addr);
	char *out = xmalloc(strlen(addr) + strlen(ext) + 1);

	memcpy(out, addr, before);
	strcpy(out + before, ext);
	strcat(out, addr + before);
	return out;
}
