/* SPDX-License-Identifier: MIT */
/* deliver_privs - switch the effective uid/gid (and the supplementary
 * groups) to a user for file access, and back to root.  Used only when
 * the process runs as root; a failure to switch is fatal (the process
 * must never continue with the wrong privileges), and the master starts
 * a new one. */
#include "postino_config.h"

#include <grp.h>
#include <unistd.h>

#include "delivery.h"
#include "msg.h"

void
local_privs_set(uid_t uid, gid_t gid)
{
	if (!delivery_conf.is_root)
		return;
	if (geteuid() != 0 && seteuid(0) < 0)
		msg_fatal("seteuid(0): %m");
	if (setgroups(1, &gid) < 0)
		msg_fatal("setgroups(%ld): %m", (long)gid);
	if (setegid(gid) < 0)
		msg_fatal("setegid(%ld): %m", (long)gid);
	if (seteuid(uid) < 0)
		msg_fatal("seteuid(%ld): %m", (long)uid);
}

void
local_privs_restore(void)
{
	gid_t zero = 0;

	if (!delivery_conf.is_root)
		return;
	if (seteuid(0) < 0)
		msg_fatal("seteuid(0): %m");
	if (setegid(0) < 0)
		msg_fatal("setegid(0): %m");
	if (setgroups(1, &zero) < 0)
		msg_fatal("setgroups(0): %m");
}
