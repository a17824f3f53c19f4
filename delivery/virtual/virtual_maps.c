/* SPDX-License-Identifier: MIT */
/* virtual_maps - the tables virtual(8) consults, and the "mailbox"
 * search order over them (mail_addr_find.h): user+ext@domain,
 * user@domain, @domain; forms other than the full address go to fixed
 * tables only.  Tables are opened directly (a proxy: prefix is honoured
 * by opening the table it names), with $n substitution refused in
 * regular-expression tables, as Postfix's virtual does.
 *
 * Logs a warning for each temporary lookup error. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "mail_addr_find.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "virtual.h"

void
virtual_maps_open(struct virtual_maps *vm, const char *param,
    const char *value)
{
	char *save = xstrdup(value), *bp = save, *tok;

	vm->param = param;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		char *err = NULL;
		struct map *m;

		m = map_open(tok, O_RDONLY, MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE
		    | MAP_FLAG_NO_REGSUB, &err);
		free(err);
		if (m == NULL)
			continue;
		vm->map = xreallocarray(vm->map, (size_t)vm->count + 1,
		    sizeof(*vm->map));
		vm->map[vm->count++] = m;
	}
	free(save);
}

enum map_status
virtual_maps_find(struct virtual_maps *vm, const char *addr, char **value_r,
    const char **title_r)
{
	struct mail_addr_forms *forms;
	enum map_status st = MAP_NOTFOUND;

	*value_r = NULL;
	*title_r = vm->param;
	if (vm->count == 0 || (forms = mail_addr_forms(addr, "mailbox")) == NULL)
		return MAP_NOTFOUND;
	for (int f = 0; f < forms->count && st == MAP_NOTFOUND; f++) {
		for (int i = 0; i < vm->count; i++) {
			struct map *m = vm->map[i];
			const char *value;

			if (!forms->full_only[f] && !(m->caps & MAP_CAP_FIXED))
				continue;
			st = map_lookup(m, forms->form[f], &value);
			if (st == MAP_FOUND)
				*value_r = xstrdup(value);
			if (st == MAP_TEMPFAIL) {
				msg_warn("%s: %s: lookup of \"%s\": %s", vm->param,
				    m->title, forms->form[f], map_reason(m));
				*title_r = m->title;
			}
			if (st != MAP_NOTFOUND)
				break;
		}
	}
	mail_addr_forms_free(&forms);
	return st;
}
