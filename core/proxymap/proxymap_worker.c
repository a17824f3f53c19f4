/* SPDX-License-Identifier: MIT */
/* proxymap_worker - a worker process of the lookup service: it owns its
 * table handles (one per table and flags, opened at the first request)
 * and does one lookup at a time, blocking for as long as the table's own
 * timeout allows.  The dispatcher never waits for it: a worker stuck on
 * a stopped directory only holds the requests given to it. */
#include "postino_config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "htable.h"
#include "map.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "proxymap.h"

void
proxymap_worker_main(int fd)
{
	struct htable *tables = htable_create(16);
	struct attr_list *req = attr_list_new();
	struct attr_list *reply = attr_list_new();
	struct buf *in = buf_new(256, BUF_NOLIMIT);
	struct buf *tkey = buf_new(256, BUF_NOLIMIT);
	const char *err;

	/* The dispatcher's signal handlers are not ours; die with it. */
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return;
	for (;;) {
		const char *table, *key, *value;
		struct map *map;
		long flags;
		enum map_status st;
		int rc = attr_read(fd, in, req, -1, &err);

		if (rc == 0)
			break;
		if (rc < 0) {
			msg_warn("worker: reading a request: %s", err);
			break;
		}
		table = attr_get(req, "table");
		key = attr_get(req, "key");
		flags = attr_get_long(req, "flags", 0);
		attr_list_reset(reply);
		if (table == NULL || key == NULL) {
			attr_addf(reply, "status", "%d", PROXY_STAT_BAD);
			goto answer;
		}
		buf_reset(tkey);
		buf_printf(tkey, "%ld:%s", flags, table);
		if ((map = htable_find(tables, buf_str(tkey))) == NULL) {
			char *oerr = NULL;

			map = map_open(table, O_RDONLY,
			    (int)flags | MAP_FLAG_SURROGATE, &oerr);
			free(oerr);
			htable_enter(tables, buf_str(tkey), map);
		}
		st = map_lookup(map, key, &value);
		switch (st) {
		case MAP_FOUND:
			attr_addf(reply, "status", "%d", PROXY_STAT_OK);
			attr_add(reply, "value", value);
			break;
		case MAP_NOTFOUND:
			attr_addf(reply, "status", "%d", PROXY_STAT_NOKEY);
			break;
		case MAP_TEMPFAIL:
			attr_addf(reply, "status", "%d", PROXY_STAT_RETRY);
			attr_add(reply, "reason", map_reason(map));
			break;
		}
answer:
		if (attr_write(fd, reply) < 0)
			break;
	}
	attr_list_free(&req);
	attr_list_free(&reply);
	buf_free(&in);
	buf_free(&tkey);
}
