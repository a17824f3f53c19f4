/* SPDX-License-Identifier: MIT */
/* mail_version - the version string postino reports. */
#ifndef POSTINO_MAIL_MAIL_VERSION_H
#define POSTINO_MAIL_MAIL_VERSION_H

const char *mail_version(void);

#endif
