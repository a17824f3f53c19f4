/* SPDX-License-Identifier: MIT */
/* map_loader - built-in drivers and libltdl-loaded modules (see
 * map_loader.h).
 *
 * Safety: only entry symbols starting with "postino_" are resolved, and
 * the symbol is a data object (struct map_module) whose magic, ABI
 * version and size are checked before any function pointer in it is
 * used.  A Postfix dynamicmaps.cf (entry "dict_ldap_open") is therefore
 * refused with a warning, never called. */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "map_loader.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "readlline.h"
#include "stringops.h"

#define ENTRY_PREFIX "postino_"

struct dynmap_entry {
	char *type;
	char *module;		/* as written */
	char *symbol;
	char *source;		/* "file, line N" */
	const struct map_driver *driver;	/* once loaded */
	struct dynmap_entry *next;
};

static char *meta_dir;
static char *shlib_dir;
static char *dynmaps_main;	/* the dynamicmaps.cf that was read */
static struct dynmap_entry *dynmaps;
static int dynmaps_read;
static int ltdl_ready;
/* Modules whose init() succeeded: one module can serve several types
 * (hash and btree), and each is initialised once per process. */
static const struct map_module **modules_init;
static size_t modules_ninit;

void
map_loader_config(const char *meta_directory, const char *shlib_directory)
{
	free(meta_dir);
	free(shlib_dir);
	meta_dir = meta_directory && *meta_directory ? xstrdup(meta_directory) : NULL;
	shlib_dir = shlib_directory && *shlib_directory ? xstrdup(shlib_directory) : NULL;
	/* Re-read on next use; loaded modules stay loaded. */
	dynmaps_read = 0;
}

const char *
map_loader_shlib_directory(void)
{
	return shlib_dir ? shlib_dir : paths_shlib_directory();
}

static const char *
map_loader_meta_directory(void)
{
	return meta_dir ? meta_dir : map_loader_shlib_directory();
}

static struct dynmap_entry *
dynmap_find(const char *type)
{
	for (struct dynmap_entry *e = dynmaps; e; e = e->next)
		if (strcmp(e->type, type) == 0)
			return e;
	return NULL;
}

/* read_dynamicmaps_file - add the entries of one file. */
static void
read_dynamicmaps_file(const char *path)
{
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line = buf_new(256, BUF_NOLIMIT);
	int lineno;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			msg_warn("open %s: %m", path);
		buf_free(&line);
		return;
	}
	rd = lline_open(fp, path, 0);
	while (lline_read(rd, line, &lineno)) {
		char *cp = line->data;
		char *type = mystrtok(&cp, " \t\r\n");
		char *module = mystrtok(&cp, " \t\r\n");
		char *symbol = mystrtok(&cp, " \t\r\n");
		struct dynmap_entry *e;

		if (type == NULL || module == NULL || symbol == NULL) {
			msg_warn("%s, line %d: expected \"type module-file entry-symbol\"",
			    path, lineno);
			continue;
		}
		if (strncmp(symbol, ENTRY_PREFIX, sizeof(ENTRY_PREFIX) - 1) != 0) {
			msg_warn("%s, line %d: entry symbol \"%s\" for type \"%s\" is not a postino module entry (is this Postfix's dynamicmaps.cf?): ignored",
			    path, lineno, symbol, type);
			continue;
		}
		if (dynmap_find(type))
			continue;
		e = xcalloc(1, sizeof(*e));
		e->type = xstrdup(type);
		e->module = xstrdup(module);
		e->symbol = xstrdup(symbol);
		e->source = map_errorf("%s, line %d", path, lineno);
		e->next = dynmaps;
		dynmaps = e;
	}
	lline_close(&rd);
	fclose(fp);
	buf_free(&line);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* read_dynamicmaps - read the configured files once. */
static void
read_dynamicmaps(void)
{
	char *path, *dpath;
	struct stat st;
	DIR *dir;

	if (dynmaps_read)
		return;
	dynmaps_read = 1;
	/* The configuration's file first (an admin's additions), then the
	 * one installed with the modules: a type refused or missing in the
	 * first (say, a Postfix dynamicmaps.cf) is still found. */
	path = concatenate(map_loader_meta_directory(), "/dynamicmaps.cf", (char *)0);
	if (stat(path, &st) == 0)
		read_dynamicmaps_file(path);
	{
		char *spath = concatenate(map_loader_shlib_directory(),
		    "/dynamicmaps.cf", (char *)0);

		if (strcmp(spath, path) != 0)
			read_dynamicmaps_file(spath);
		free(dynmaps_main);
		dynmaps_main = spath;
	}
	dpath = concatenate(map_loader_meta_directory(), "/dynamicmaps.cf.d",
	    (char *)0);
	if ((dir = opendir(dpath)) != NULL) {
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;

		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = concatenate(dpath, "/", de->d_name, (char *)0);
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			read_dynamicmaps_file(names[i]);
			free(names[i]);
		}
		free(names);
	}
	free(dpath);
	free(path);
}

/* load_entry - dlopen the module and check the entry; NULL + *err_r. */
static const struct map_driver *
load_entry(struct dynmap_entry *e, char **err_r)
{
	char *path;
	lt_dlhandle h;
	const struct map_module *mod;

	if (!ltdl_ready) {
		if (lt_dlinit() != 0) {
			*err_r = map_errorf("unsupported table type \"%s\": lt_dlinit: %s",
			    e->type, lt_dlerror());
			return NULL;
		}
		ltdl_ready = 1;
	}
	if (e->module[0] == '/')
		path = xstrdup(e->module);
	else
		path = concatenate(map_loader_shlib_directory(), "/", e->module,
		    (char *)0);
	if (access(path, F_OK) != 0) {
		*err_r = map_errorf("unsupported table type \"%s\": module %s not found in %s",
		    e->type, e->module, e->module[0] == '/' ? "/"
		    : map_loader_shlib_directory());
		free(path);
		return NULL;
	}
	if ((h = lt_dlopenext(path)) == NULL) {
		*err_r = map_errorf("unsupported table type \"%s\": cannot load module %s: %s",
		    e->type, path, lt_dlerror());
		free(path);
		return NULL;
	}
	if ((mod = lt_dlsym(h, e->symbol)) == NULL) {
		*err_r = map_errorf("unsupported table type \"%s\": module %s has no entry symbol %s",
		    e->type, path, e->symbol);
		free(path);
		return NULL;
	}
	if (mod->magic != MAP_MODULE_MAGIC || mod->abi != MAP_ABI_VERSION
	    || mod->size != sizeof(struct map_module)) {
		*err_r = map_errorf("unsupported table type \"%s\": %s: %s is not a postino map module of ABI version %u",
		    e->type, path, e->symbol, MAP_ABI_VERSION);
		free(path);
		return NULL;
	}
	if (mod->init) {
		size_t i;

		for (i = 0; i < modules_ninit && modules_init[i] != mod; i++)
			;
		if (i == modules_ninit) {
			if (mod->init() != 0) {
				*err_r = map_errorf("unsupported table type \"%s\": module %s failed to initialise",
				    e->type, path);
				free(path);
				return NULL;
			}
			modules_init = xreallocarray(modules_init, modules_ninit + 1,
			    sizeof(*modules_init));
			modules_init[modules_ninit++] = mod;
		}
	}
	for (const struct map_driver *const *dp = mod->drivers; dp && *dp; dp++) {
		const struct map_driver *d = *dp;

		if (d->magic != MAP_DRIVER_MAGIC || d->abi != MAP_ABI_VERSION) {
			*err_r = map_errorf("unsupported table type \"%s\": %s: bad driver record",
			    e->type, path);
			free(path);
			return NULL;
		}
		if (strcmp(d->type, e->type) == 0) {
			free(path);
			return d;
		}
	}
	*err_r = map_errorf("unsupported table type \"%s\": module %s does not provide it",
	    e->type, path);
	free(path);
	return NULL;
}

const struct map_driver *
map_loader_find(const char *type, char **err_r)
{
	struct dynmap_entry *e;

	for (const struct map_driver *const *dp = map_builtin_drivers; *dp; dp++)
		if (strcmp((*dp)->type, type) == 0)
			return *dp;
	read_dynamicmaps();
	if ((e = dynmap_find(type)) == NULL) {
		*err_r = map_errorf("unsupported table type \"%s\": not built in and not listed in %s",
		    type, dynmaps_main);
		return NULL;
	}
	if (e->driver == NULL)
		e->driver = load_entry(e, err_r);
	return e->driver;
}

const char **
map_loader_types(void)
{
	size_t n = 0;
	const char **list = NULL;

	read_dynamicmaps();
	for (const struct map_driver *const *dp = map_builtin_drivers; *dp; dp++) {
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = (*dp)->type;
	}
	/* Only types whose module is installed: what can be used now. */
	for (struct dynmap_entry *e = dynmaps; e; e = e->next) {
		char *path = e->module[0] == '/' ? xstrdup(e->module)
		    : concatenate(map_loader_shlib_directory(), "/", e->module,
			(char *)0);
		int present = access(path, R_OK) == 0;

		free(path);
		if (!present)
			continue;
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = e->type;
	}
	list = xreallocarray(list, n + 1, sizeof(*list));
	list[n] = NULL;
	qsort(list, n, sizeof(*list), cmp_str);
	return list;
}

const char **
map_type_list(void)
{
	return map_loader_types();
}
