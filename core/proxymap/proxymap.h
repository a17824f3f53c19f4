/* SPDX-License-Identifier: MIT */
/* proxymap - what the lookup service's dispatcher and its worker
 * processes share. */
#ifndef POSTINO_PROXYMAP_H
#define POSTINO_PROXYMAP_H

/* proxymap_worker_main - the body of a worker process: read one request
 * (request=lookup table=T flags=N key=K) at a time from fd, answer it
 * (status=S value=V | reason=R), open each table at its first request
 * and keep it.  Returns when the dispatcher closes fd (or dies). */
void proxymap_worker_main(int fd);

#endif
