/* SPDX-License-Identifier: MIT */
/* user_acl - who may submit, flush or list the queue (user_acl.h). */
#include "postino_config.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_addr_find.h"
#include "mail_vars.h"
#include "map.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "user_acl.h"

void
user_acl_check(const char *param, const char *value, const char *what,
    int privileged_ok)
{
	struct passwd *pw;
	struct match_list *list;
	uid_t uid = getuid();
	char *name;
	int rc;

	if (privileged_ok) {
		struct passwd *owner;

		if (uid == 0)
			return;
		owner = getpwnam(var_mail_owner);
		if (owner != NULL && owner->pw_uid == uid)
			return;
	}
	pw = getpwuid(uid);
	name = xstrdup(pw ? pw->pw_name : "unknown");
	list = match_list_create(param, value, MATCH_LIST_DOMAIN);
	rc = match_list_match(list, name, NULL);
	if (rc < 0)
		msg_fatal_status(EX_TEMPFAIL, "%s: %s", param,
		    match_list_reason(list));
	if (rc == 0)
		msg_fatal_status(EX_NOPERM, "User %s(%ld) is not allowed to %s",
		    name, (long)uid, what);
	match_list_free(&list);
	free(name);
}

/* sender_base - the sender without its address extension. */
static char *
sender_base(const char *sender)
{
	const char *at = strrchr(sender, '@');
	char *local = at ? xstrndup(sender, (size_t)(at - sender))
	    : xstrdup(sender);
	int ext = mail_addr_split_ext(local, var_recipient_delimiter);
	char *out;

	if (ext >= 0)
		local[ext] = 0;
	out = concatenate(local, at ? at : "", (char *)0);
	free(local);
	return out;
}

/* pattern_ok - does one pattern of the user's list allow the sender? */
static int
pattern_ok(const char *pat, const char *sender)
{
	const char *at = strrchr(sender, '@');

	if (strcmp(pat, "*") == 0)
		return 1;
	if (*sender == 0)
		return strcmp(pat, var_empty_address_local_login_sender_maps_lookup_key)
		    == 0;
	if (*pat == '@')
		return at != NULL && strcasecmp(pat, at) == 0;
	return strcasecmp(pat, sender) == 0;
}

const char *
user_login_name(void)
{
	static char name[64];
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid:%ld", (long)getuid());
	return name;
}

int
user_login_sender(const char *sender, const char **why_r)
{
	static char why[512];
	const char *login = user_login_name(), *value;
	char *copy, *cp, *spec, *base, *list = NULL, *err = NULL;
	int found = 0, ok = 0;

	*why_r = NULL;
	cp = copy = xstrdup(var_local_login_sender_maps);
	while (!found && (spec = mystrtok_table(&cp)) != NULL) {
		struct map *map = map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err);

		if (map == NULL) {
			snprintf(why, sizeof(why), "local_login_sender_maps: %s",
			    err ? err : spec);
			free(err);
			free(copy);
			*why_r = why;
			return -1;
		}
		switch (map_lookup(map, login, &value)) {
		case MAP_FOUND:
			list = xstrdup(value);
			found = 1;
			break;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			snprintf(why, sizeof(why), "local_login_sender_maps: %s: %s",
			    spec, map_reason(map));
			map_close(&map);
			free(copy);
			*why_r = why;
			return -1;
		}
		map_close(&map);
	}
	free(copy);
	if (!found)
		return 0;
	base = sender_base(sender);
	cp = list;
	while (!ok && (spec = mystrtok(&cp, ", \t\r\n")) != NULL)
		ok = pattern_ok(spec, base);
	free(base);
	free(list);
	return ok;
}
