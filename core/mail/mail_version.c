/* SPDX-License-Identifier: MIT */
/* mail_version - the version string postino reports (mail_version). */
#include "postino_config.h"

#include "mail_version.h"

const char *
mail_version(void)
{
	return POSTINO_VERSION;
}
