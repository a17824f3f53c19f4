/* SPDX-License-Identifier: MIT */
/* mynetworks - the $mynetworks list (see mynetworks.h).  Table errors
 * are logged by match_list. */
#include "postino_config.h"

#include <stddef.h>

#include "mail_params.h"
#include "mail_vars.h"
#include "match_list.h"
#include "mynetworks.h"

static struct match_list *mynetworks_list;

void
mynetworks_init(void)
{
	match_list_free(&mynetworks_list);
	mail_vars_bind(MAIL_VARS_MYNETWORKS);
	mynetworks_list = match_list_create(MAIL_PARAM_NAME(mynetworks),
	    var_mynetworks, MATCH_LIST_HOSTADDR);
}

int
mynetworks_match(const char *name, const char *addr)
{
	if (mynetworks_list == NULL)
		mynetworks_init();
	if (addr == NULL || *addr == 0)
		return 0;
	return match_list_match(mynetworks_list, name, addr);
}

const char *
mynetworks_reason(void)
{
	return mynetworks_list ? match_list_reason(mynetworks_list) : "";
}

void
mynetworks_free(void)
{
	match_list_free(&mynetworks_list);
}
