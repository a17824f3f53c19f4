/* SPDX-License-Identifier: MIT */
/* local_sysexits - map a command's exit status (sysexits.h) to an
 * enhanced status code, a text and whether the failure is temporary, as
 * local(8) and pipe(8) document: EX_TEMPFAIL and EX_OSERR defer, the
 * other sysexits codes bounce; any other non-zero status bounces as
 * "Command died with status N". */
#include "postino_config.h"

#include <stddef.h>
#include <sysexits.h>

#include "local.h"

static const struct {
	int status;
	const char *dsn;
	const char *text;
} sysexits_table[] = {
	{EX_USAGE, "5.3.0", "command line usage error"},
	{EX_DATAERR, "5.6.0", "data format error"},
	{EX_NOINPUT, "5.3.0", "cannot open input"},
	{EX_NOUSER, "5.1.1", "user unknown"},
	{EX_NOHOST, "5.1.2", "host name unknown"},
	{EX_UNAVAILABLE, "5.3.0", "service unavailable"},
	{EX_SOFTWARE, "5.3.0", "internal software error"},
	{EX_OSERR, "4.3.0", "system resource problem"},
	{EX_OSFILE, "5.3.0", "critical OS file missing"},
	{EX_CANTCREAT, "5.2.0", "can't create user output file"},
	{EX_IOERR, "5.3.0", "input/output error"},
	{EX_TEMPFAIL, "4.3.0", "temporary failure"},
	{EX_PROTOCOL, "5.5.0", "remote error in protocol"},
	{EX_NOPERM, "5.7.0", "permission denied"},
	{EX_CONFIG, "5.3.5", "local configuration error"},
};

/* local_sysexits - DSN for status; NULL when it is not a sysexits code. */
const char *
local_sysexits(int status, const char **text_r, int *soft_r)
{
	for (size_t i = 0; i < sizeof(sysexits_table) / sizeof(sysexits_table[0]); i++) {
		if (sysexits_table[i].status == status) {
			*text_r = sysexits_table[i].text;
			*soft_r = sysexits_table[i].dsn[0] == '4';
			return sysexits_table[i].dsn;
		}
	}
	return NULL;
}
