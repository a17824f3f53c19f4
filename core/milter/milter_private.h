/* SPDX-License-Identifier: MIT */
/* milter_private - what the milter library's files share: the protocol
 * constants (Sendmail's libmilter names), the list and session structs,
 * and the connection functions of milter_io.c. */
#ifndef POSTINO_MILTER_MILTER_PRIVATE_H
#define POSTINO_MILTER_MILTER_PRIVATE_H

#include <stddef.h>

#include "buf.h"
#include "milter.h"

/* MTA -> milter commands. */
#define SMFIC_ABORT	'A'
#define SMFIC_BODY	'B'
#define SMFIC_CONNECT	'C'
#define SMFIC_MACRO	'D'
#define SMFIC_BODYEOB	'E'
#define SMFIC_HELO	'H'
#define SMFIC_HEADER	'L'
#define SMFIC_MAIL	'M'
#define SMFIC_EOH	'N'
#define SMFIC_OPTNEG	'O'
#define SMFIC_QUIT	'Q'
#define SMFIC_RCPT	'R'
#define SMFIC_DATA	'T'
#define SMFIC_UNKNOWN	'U'

/* milter -> MTA replies. */
#define SMFIR_ADDRCPT	'+'
#define SMFIR_DELRCPT	'-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN	'4'
#define SMFIR_ACCEPT	'a'
#define SMFIR_REPLBODY	'b'
#define SMFIR_CONTINUE	'c'
#define SMFIR_DISCARD	'd'
#define SMFIR_CHGFROM	'e'
#define SMFIR_CONN_FAIL	'f'
#define SMFIR_ADDHEADER	'h'
#define SMFIR_INSHEADER	'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER	'm'
#define SMFIR_PROGRESS	'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT	'r'
#define SMFIR_SKIP	's'
#define SMFIR_TEMPFAIL	't'
#define SMFIR_REPLYCODE	'y'

/* Actions (OPTNEG). */
#define SMFIF_ADDHDRS	0x01
#define SMFIF_CHGBODY	0x02
#define SMFIF_ADDRCPT	0x04
#define SMFIF_DELRCPT	0x08
#define SMFIF_CHGHDRS	0x10
#define SMFIF_QUARANTINE 0x20
#define SMFIF_CHGFROM	0x40
#define SMFIF_ADDRCPT_PAR 0x80
#define SMFIF_SETSYMLIST 0x100

/* Protocol steps (OPTNEG). */
#define SMFIP_NOCONNECT	0x01
#define SMFIP_NOHELO	0x02
#define SMFIP_NOMAIL	0x04
#define SMFIP_NORCPT	0x08
#define SMFIP_NOBODY	0x10
#define SMFIP_NOHDRS	0x20
#define SMFIP_NOEOH	0x40
#define SMFIP_NR_HDR	0x80
#define SMFIP_NOUNKNOWN	0x100
#define SMFIP_NODATA	0x200
#define SMFIP_SKIP	0x400
#define SMFIP_RCPT_REJ	0x800
#define SMFIP_NR_CONN	0x1000
#define SMFIP_NR_HELO	0x2000
#define SMFIP_NR_MAIL	0x4000
#define SMFIP_NR_RCPT	0x8000
#define SMFIP_NR_DATA	0x10000
#define SMFIP_NR_UNKN	0x20000
#define SMFIP_NR_EOH	0x40000
#define SMFIP_NR_BODY	0x80000
#define SMFIP_HDR_LEADSPC 0x100000

#define MILTER_CHUNK	65535		/* body chunk, as Sendmail */
#define MILTER_PACKET_MAX (4 * 1024 * 1024)	/* a longer reply is an error */

/* Default actions. */
#define MILTER_DEF_ACCEPT	0
#define MILTER_DEF_REJECT	1
#define MILTER_DEF_TEMPFAIL	2
#define MILTER_DEF_QUARANTINE	3

/* One milter of a list: the endpoint and its options. */
struct milter_opts {
	char *endpoint;
	long connect_timeout, command_timeout, content_timeout;
	int protocol;
	int def_action;
};

struct milter_list {
	int count;
	struct milter_opts *opts;
	char *macros[MILTER_STAGES];	/* milter_*_macros */
	char *daemon_name;		/* milter_macro_daemon_name */
	char *version;			/* milter_macro_v */
	char *myhostname;		/* j */
};

/* A milter's state in a session. */
#define MILTER_S_NEW		0	/* not connected yet */
#define MILTER_S_READY		1	/* in the conversation */
#define MILTER_S_DONE_MSG	2	/* done with this message (accepted
					 * or refused it) */
#define MILTER_S_OFF		3	/* done with the session */
#define MILTER_S_ERROR		4	/* failed: its default action answers */

struct milter {
	const struct milter_opts *o;
	int fd;
	int state;
	int in_msg;			/* has seen MAIL in this session (then
					 * each transaction ends in ABORT) */
	unsigned version, actions, pflags;	/* negotiated */
	char *symlist[MILTER_STAGES];	/* macros the milter asked for */
};

struct milters {
	const struct milter_list *list;
	struct event_base *base;
	milter_macro_fn *macro;
	void *ctx;
	int count;
	struct milter *m;
	struct buf *reply;		/* the last event's reply */
};

/* milter.c */
int milter_send_macros(struct milters *ms, struct milter *m, int stage,
    int cmd, long timeout);
const char *milter_fail(struct milters *ms, struct milter *m);
int milter_verdict(struct milters *ms, struct milter *m, int stage, int cmd,
    const char *data, size_t len, const char **reply_r);

/* milter_io.c - one milter's connection.  milter_io_open connects and
 * negotiates (0, or -1 logged); milter_io_send sends a packet (0 or -1
 * logged); milter_io_read reads one reply packet into *cmd_r and b (0
 * or -1 logged), what names the packet awaited in the log;
 * milter_io_verdict reads until a verdict (progress resets the time)
 * and passes it to milter_verdict (its result; -1 logged);
 * milter_io_send_nowait sends a packet that expects no reply without
 * waiting (a full socket closes the connection); milter_io_close. */
int milter_io_open(struct milters *ms, struct milter *m);
int milter_io_send(struct milters *ms, struct milter *m, int cmd,
    const char *data, size_t len, long timeout);
int milter_io_read(struct milters *ms, struct milter *m, int *cmd_r,
    struct buf *b, long timeout, const char *what);
int milter_io_verdict(struct milters *ms, struct milter *m, int stage,
    int cmd, long timeout, const char **reply_r);
void milter_io_send_nowait(struct milter *m, int cmd, const char *data,
    size_t len);
void milter_io_close(struct milter *m);
/* milter_cmd_name - "SMFIC_HELO" and so on, for logs. */
const char *milter_cmd_name(int cmd);

#endif
