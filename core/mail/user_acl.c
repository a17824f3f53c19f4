/* SPDX-License-Identifier: MIT */
/* user_acl - who may submit, flush or list the queue (user_acl.h). */
#include "postino_config.h"

#include <pwd.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
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
