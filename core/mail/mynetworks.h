/* SPDX-License-Identifier: MIT */
/* mynetworks - is a client address one of our trusted networks?
 *
 * The list is $mynetworks (a host/address match list, see match_list.h:
 * CIDR for IPv4 and [IPv6]/len, /file, type:table).  Its default is
 * computed by mail_conf from mynetworks_style (host, subnet, class) and
 * the interface addresses; below compatibility_level 2 the style is
 * subnet. */
#ifndef POSTINO_MAIL_MYNETWORKS_H
#define POSTINO_MAIL_MYNETWORKS_H

/* mynetworks_init - parse $mynetworks (again, after a configuration
 * change). */
void mynetworks_init(void);
/* mynetworks_match - 1 when addr (text, IPv6 without brackets) is in
 * $mynetworks, 0 when not, -1 on a temporary table error.  name (may be
 * NULL) is the client's verified host name, for name patterns. */
int mynetworks_match(const char *name, const char *addr);
/* mynetworks_reason - why the last -1 happened. */
const char *mynetworks_reason(void);
/* mynetworks_free - release the parsed list. */
void mynetworks_free(void);

#endif
