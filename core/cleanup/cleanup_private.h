/* SPDX-License-Identifier: MIT */
/* cleanup_private - the state shared by the cleanup library's files:
 * cleanup.c (API, envelope, commit), cleanup_message.c (headers, body,
 * header/body checks, missing headers), cleanup_addr.c (tables, address
 * canonicalisation, canonical maps, virtual alias expansion). */
#ifndef POSTINO_CLEANUP_CLEANUP_PRIVATE_H
#define POSTINO_CLEANUP_CLEANUP_PRIVATE_H

#include <stdarg.h>
#include <sys/time.h>
#include <sys/types.h>

#include "attr.h"
#include "buf.h"
#include "cleanup.h"
#include "htable.h"
#include "map.h"
#include "mime_parse.h"
#include "maps.h"
#include "msg.h"
#include "qfile.h"

#define CLEANUP_PROG	"cleanup"

/* Content state. */
#define CLEANUP_ST_ENVELOPE	0	/* no content line seen yet */
#define CLEANUP_ST_HEADERS	1	/* in the primary headers */
#define CLEANUP_ST_BODY		2

/* Headers seen (for missing-header insertion). */
#define CLEANUP_HDR_MESSAGE_ID		(1 << 0)
#define CLEANUP_HDR_DATE		(1 << 1)
#define CLEANUP_HDR_FROM		(1 << 2)
#define CLEANUP_HDR_TO			(1 << 3)
#define CLEANUP_HDR_CC			(1 << 4)
#define CLEANUP_HDR_BCC			(1 << 5)
#define CLEANUP_HDR_RESENT_MESSAGE_ID	(1 << 6)
#define CLEANUP_HDR_RESENT_DATE		(1 << 7)
#define CLEANUP_HDR_RESENT_FROM		(1 << 8)
#define CLEANUP_HDR_RESENT_TO		(1 << 9)
#define CLEANUP_HDR_RESENT_CC		(1 << 10)
#define CLEANUP_HDR_RESENT_BCC		(1 << 11)
#define CLEANUP_HDR_RESENT_ANY		(1 << 12)

struct cleanup_rcpt {
	char *orig;
	char *addr;
	int notify;
};

/* A list of tables opened from one main.cf parameter. */
struct cleanup_state {
	int flags;			/* CLEANUP_FLAG_* */
	int status;			/* CLEANUP_STAT_* bits */
	char *reply;			/* reply text for CONT/DEFER */
	struct qfile_writer *qf;	/* NULL once aborted */
	char queue_id[64];
	struct timeval arrival;
	struct attr_list *attrs;
	char *sender;			/* rewritten; NULL until set */
	struct cleanup_rcpt *rcpt;	/* final recipients */
	int rcpt_count;
	int rcpt_cap;
	int rcpt_written;		/* how many are in the file as R */
	off_t *rcpt_offset;
	struct htable *dups;		/* duplicate filter */
	char *log_rcpt;			/* first recipient, for log lines */
	char *redirect;			/* REDIRECT target */
	char *filter;			/* content filter transport:nexthop */
	char **auto_bcc;		/* sender_/recipient_bcc_maps results,
					 * added at the end */
	int auto_bcc_count;

	int cstate;			/* CLEANUP_ST_* */
	struct buf *hdr;		/* current logical header */
	int hdr_pending;		/* hdr holds a header */
	int hdr_truncated;
	char **prepend;			/* headers to put first */
	int prepend_count;
	int headers_seen;		/* CLEANUP_HDR_* */
	int hops;
	off_t size;			/* message_size_limit accounting */
	off_t body_seen;		/* body bytes, for body_checks_size_limit */
	int piece_in_header;		/* a long line in pieces is a header */
	struct mime_parse mime;		/* the MIME structure */
	int local_context;		/* add missing headers? */
	off_t env_offset;		/* where A/S/R records start */
	int rewrite;			/* milters changed the envelope or the
					 * content: write it all again */
	char *new_content;		/* ... to this content (NULL: as is) */
	size_t new_len;
};

/* Process-wide configuration (cleanup_init). */
struct cleanup_conf {
	int initialised;
	struct maps header_checks;
	struct maps mime_header_checks;
	struct maps nested_header_checks;
	struct maps body_checks;
	struct maps milter_header_checks;
	struct maps canonical;
	struct maps sender_canonical;
	struct maps rcpt_canonical;
	struct maps virtual_alias;
	struct maps sender_bcc;
	struct maps rcpt_bcc;
	char *always_bcc;
	int canon_env_sender;		/* canonical_classes */
	int canon_env_rcpt;
	int canon_hdr_sender;
	int canon_hdr_rcpt;
	int sender_canon_env;		/* sender_canonical_classes */
	int sender_canon_hdr;
	int rcpt_canon_env;		/* recipient_canonical_classes */
	int rcpt_canon_hdr;
	int masq_env_sender;		/* masquerade_classes */
	int masq_env_rcpt;
	int masq_hdr_sender;
	int masq_hdr_rcpt;
	char **masq_domains;		/* masquerade_domains ("!d": not d) */
	int masq_domain_count;
	char **masq_exceptions;		/* masquerade_exceptions (local parts) */
	int masq_exception_count;
	char *remote_rewrite_domain;	/* remote_header_rewrite_domain */
	int propagate_canonical;	/* propagate_unmatched_extensions */
	int propagate_virtual;
	int append_at_myorigin;
	int enable_orig_rcpt;
	int always_add_headers;
	long hopcount_limit;
	long size_limit;
	long header_size_limit;
	int mime_disabled;		/* disable_mime_input_processing */
	int mime_report_nesting;	/* refuse mail nested too deep */
	long mime_nesting_limit;
	long mime_boundary_limit;	/* mime_boundary_length_limit */
	long body_checks_size_limit;
	long virt_recursion_limit;
	long virt_expansion_limit;
	long virt_addr_length_limit;
	char *myorigin;
	char *myhostname;
	char *undisclosed_header;
	char *rewrite_clients;		/* local_header_rewrite_clients */
	char **local_addrs;		/* for permit_inet_interfaces */
	int local_addr_count;
	char **drop_headers;		/* message_drop_headers */
	int drop_header_count;
	unsigned char reject_chars[32];	/* message_reject_characters (bits) */
	unsigned char strip_chars[32];	/* message_strip_characters */
	int any_reject_chars;
	int any_strip_chars;
};

extern struct cleanup_conf cleanup_conf;

/* cleanup_addr.c: cleanup_addr_bcc - the BCC address of addr in maps
 * (the "virtual" key order: user@domain, user, @domain), malloc'd; NULL
 * when there is none, or when the lookup failed (then the message is
 * deferred). */
char *cleanup_addr_bcc(struct cleanup_state *st, struct maps *maps,
    const char *addr);
/* cleanup_addr_header - an address of a sender (sender != 0) or
 * recipient header, internal form, already qualified: canonical
 * mapping and masquerading as the header classes say; malloc'd, NULL
 * when a table failed (the message is then deferred). */
char *cleanup_addr_header(struct cleanup_state *st, const char *addr,
    int sender);
/* cleanup_masquerade - masquerade_domains applied to addr (taken over;
 * the result is returned). */
char *cleanup_masquerade(char *addr);

/* cleanup_addr.c: cleanup_header_rewrite - the header text with
 * its addresses rewritten (malloc'd), or NULL when it is not an address
 * header, the message's context rewrites no headers, or nothing changed. */
char *cleanup_header_rewrite(struct cleanup_state *st, const char *text);

/* cleanup.c */
void cleanup_log(struct cleanup_state *st, const char *fmt, ...)
    PRINTFLIKE(2, 3);
void cleanup_set_error(struct cleanup_state *st, int status,
    const char *reply);
void cleanup_write_error(struct cleanup_state *st, const char *what);
void cleanup_content(struct cleanup_state *st, const char *data, size_t len);
/* cleanup_content_raw - content bytes, no line end added. */
void cleanup_content_raw(struct cleanup_state *st, const char *data,
    size_t len);
void cleanup_start_content(struct cleanup_state *st);
void cleanup_final_rcpt(struct cleanup_state *st, const char *orig,
    const char *addr, int notify);
/* cleanup_act_log - "ID: action: class text from CLIENT; from=<> to=<>
 * proto=P helo=<H>[: text]" as program cleanup. */
void cleanup_act_log(struct cleanup_state *st, const char *action,
    const char *class, const char *content, const char *text);

/* cleanup_message.c */
void cleanup_message_line(struct cleanup_state *st, const char *line,
    size_t len);
void cleanup_message_end(struct cleanup_state *st);
void cleanup_message_piece(struct cleanup_state *st, const char *data,
    size_t len, int first, int last);
void cleanup_header_text(struct cleanup_state *st, const char *text,
    size_t len);

/* cleanup_addr.c */
/* cleanup_addr_external - qualify an envelope address (@$myorigin);
 * malloc'd. */
char *cleanup_addr_qualify(const char *addr);
/* cleanup_addr_sender / _rcpt - canonicalise and map; malloc'd result,
 * NULL after a table error (the state is deferred). */
char *cleanup_addr_sender(struct cleanup_state *st, const char *addr);
char *cleanup_addr_rcpt(struct cleanup_state *st, const char *addr);
/* cleanup_addr_virtual - expand addr through virtual_alias_maps and hand
 * every result to cleanup_final_rcpt. */
void cleanup_addr_virtual(struct cleanup_state *st, const char *orig,
    const char *addr, int notify);

#endif
