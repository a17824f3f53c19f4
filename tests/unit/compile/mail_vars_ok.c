/* SPDX-License-Identifier: MIT */
/* mail_vars_ok - compiles: typed parameters and names are checked by the
 * compiler (the control for mail_vars_misspelt.c). */
#include "postino_config.h"

#include "mail_params.h"
#include "mail_vars.h"

long mail_vars_ok(void);

long
mail_vars_ok(void)
{
	return var_hopcount_limit + (long)sizeof(MAIL_PARAM_NAME(relay_domains))
	    + (var_myhostname != 0);
}
