/* SPDX-License-Identifier: MIT */
/* mail_vars_misspelt - must not compile: a misspelt parameter name
 * (hopcount_limt) is a build error, not an empty string at run time. */
#include "postino_config.h"

#include "mail_params.h"
#include "mail_vars.h"

long mail_vars_misspelt(void);

long
mail_vars_misspelt(void)
{
#ifdef MISSPELT_NAME
	return (long)sizeof(MAIL_PARAM_NAME(hopcount_limt));
#else
	return var_hopcount_limt;
#endif
}
