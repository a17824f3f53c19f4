/* SPDX-License-Identifier: MIT */
/* paths - installation directories, found relative to the running program
 * so that a tree installed with "cmake --install --prefix P" (or the
 * build tree, which has the same layout) works wherever it is. */
#ifndef POSTINO_UTIL_PATHS_H
#define POSTINO_UTIL_PATHS_H

/* paths_prefix - the installation prefix of the running program (e.g.
 * "/usr" for /usr/sbin/postmap), or NULL if the program does not live in
 * a postino tree. */
const char *paths_prefix(void);
/* paths_shlib_directory - PREFIX/lib/postino (modules, dynamicmaps.cf). */
const char *paths_shlib_directory(void);
/* paths_daemon_directory - PREFIX/libexec/postino. */
const char *paths_daemon_directory(void);
/* paths_command_directory - PREFIX/sbin. */
const char *paths_command_directory(void);
/* paths_config_directory - /etc/postino for prefix /usr, else
 * PREFIX/etc/postino. */
const char *paths_config_directory(void);

#endif
