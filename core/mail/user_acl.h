/* SPDX-License-Identifier: MIT */
/* user_acl - authorized_submit_users, authorized_flush_users and
 * authorized_mailq_users: may the real user of this process do it?
 *
 * The list is a match list of user names (names, /file, type:table,
 * !pattern; static:anyone matches all); the user is the login name of
 * the real UID, "unknown" when the password file has none, as Postfix
 * says.  With privileged_ok, root and $mail_owner always may (the flush
 * and mailq lists); the submit list applies to everyone. */
#ifndef POSTINO_MAIL_USER_ACL_H
#define POSTINO_MAIL_USER_ACL_H

/* user_acl_check - return when allowed; else exit with "User NAME(UID)
 * is not allowed to WHAT" (EX_NOPERM), or EX_TEMPFAIL when a table of
 * the list fails. */
void user_acl_check(const char *param, const char *value, const char *what,
    int privileged_ok);

/* user_login_name - the real user's login name, "uid:N" when the
 * password file has none (a static buffer). */
const char *user_login_name(void);

/* user_login_sender - local_login_sender_maps: may the real user of
 * this process submit mail with this envelope sender (internal form,
 * "" for the null sender)?  The tables are searched with the login name
 * ("uid:N" without one); the first answer is a list of patterns: "*"
 * any sender, "<>" the null sender (as
 * empty_address_local_login_sender_maps_lookup_key names it), "@domain"
 * any address in domain, else one address; the sender's address
 * extension does not count.  1 yes, 0 no (no table answers for the
 * user), -1 a table failed (*why_r, static). */
int user_login_sender(const char *sender, const char **why_r);

#endif
