/* SPDX-License-Identifier: MIT */
/* postsuper - internals of the postsuper(1) command. */
#ifndef POSTINO_CMD_POSTSUPER_H
#define POSTINO_CMD_POSTSUPER_H

/* postsuper_running - is a master running for this configuration (it
 * holds the lock on pid/master.pid)?  1 or 0. */
int postsuper_running(void);

/* postsuper_structure - -s: re-create missing queue directories, move
 * files with bad names or broken modes to corrupt/, give queue files
 * back to mail_owner, remove status logs whose message is gone.  Every
 * repair is a warning naming the path.  Returns the number of repairs. */
int postsuper_structure(void);

/* postsuper_purge - -p: remove files left half-written by a crash
 * (incoming/ without mode 0700, maildrop/ without the owner x bit) that
 * are older than an hour (incoming/: of any age when the mail system is
 * down; maildrop/ always waits the hour: postdrop works without daemons).
 * Returns the number removed. */
int postsuper_purge(void);

#endif
