/* SPDX-License-Identifier: MIT */
/* maildrop - write, read and validate the local submission record
 * stream (maildrop.h).  Used by sendmail (writer), postdrop (reader and
 * validator of its standard input) and pickup (reader and validator of
 * maildrop/ files).  Nothing here logs: callers report the reasons. */
#include "postino_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "maildrop.h"

/* Sections in stream order; a record may not go back to an earlier one. */
enum {
	SEC_NONE, SEC_VERSION, SEC_ATTR, SEC_SENDER, SEC_RCPT, SEC_LINE, SEC_END
};

int
maildrop_put(FILE *fp, int type, const void *data, size_t len)
{
	unsigned char hdr[MAILDROP_HDR_LEN];

	if (len > MAILDROP_MAX_RECORD) {
		errno = EFBIG;
		return -1;
	}
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	if (fwrite(hdr, 1, sizeof(hdr), fp) != sizeof(hdr))
		return -1;
	if (len > 0 && fwrite(data, 1, len, fp) != len)
		return -1;
	return 0;
}

int
maildrop_put_str(FILE *fp, int type, const char *str)
{
	return maildrop_put(fp, type, str, strlen(str));
}

int
maildrop_put_line(FILE *fp, const char *line, size_t len)
{
	/* An over-long line goes in pieces that the reader joins again. */
	while (len > MAILDROP_MAX_RECORD) {
		if (maildrop_put(fp, MAILDROP_REC_CONT, line, MAILDROP_MAX_RECORD) < 0)
			return -1;
		line += MAILDROP_MAX_RECORD;
		len -= MAILDROP_MAX_RECORD;
	}
	return maildrop_put(fp, MAILDROP_REC_LINE, line, len);
}

int
maildrop_get(FILE *fp, struct buf *payload, const char **err_r,
    size_t *count_r)
{
	static char errbuf[128];
	unsigned char hdr[MAILDROP_HDR_LEN];
	char chunk[8192];
	size_t got, len, want;

	buf_reset(payload);
	got = fread(hdr, 1, sizeof(hdr), fp);
	if (count_r)
		*count_r += got;
	if (got == 0 && !ferror(fp))
		return 0;
	if (got < sizeof(hdr)) {
		if (ferror(fp)) {
			snprintf(errbuf, sizeof(errbuf), "read error: %s",
			    strerror(errno));
			*err_r = errbuf;
		} else {
			*err_r = "truncated record header";
		}
		return -1;
	}
	len = ((size_t)hdr[1] << 24) | ((size_t)hdr[2] << 16)
	    | ((size_t)hdr[3] << 8) | (size_t)hdr[4];
	if (len > MAILDROP_MAX_RECORD) {
		snprintf(errbuf, sizeof(errbuf), "record length %zu exceeds "
		    "limit %d", len, MAILDROP_MAX_RECORD);
		*err_r = errbuf;
		return -1;
	}
	/* Read in chunks: a lying length costs no memory up front. */
	while (len > 0) {
		want = len < sizeof(chunk) ? len : sizeof(chunk);
		got = fread(chunk, 1, want, fp);
		if (count_r)
			*count_r += got;
		if (got > 0 && buf_append(payload, chunk, got) < 0) {
			*err_r = "record too long";
			return -1;
		}
		if (got < want) {
			if (ferror(fp)) {
				snprintf(errbuf, sizeof(errbuf), "read error: %s",
				    strerror(errno));
				*err_r = errbuf;
			} else {
				*err_r = "truncated record";
			}
			return -1;
		}
		len -= got;
	}
	return hdr[0] == 0 ? 256 : hdr[0];	/* type 0 stays an error */
}

/* printable - no control characters (bytes < 0x20 and 0x7f) and no NUL. */
static int
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* in_charset - every byte in [!-~] (RFC 3461 xtext-free printable). */
static int
all_graphic(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int
maildrop_attr_ok(const char *nameval)
{
	const char *eq = strchr(nameval, '=');
	const char *v;
	size_t nlen;

	if (eq == NULL || strlen(nameval) > MAILDROP_MAX_ATTR
	    || !printable(nameval, strlen(nameval)))
		return 0;
	nlen = (size_t)(eq - nameval);
	v = eq + 1;
#define IS(name) (nlen == sizeof(name) - 1 && strncmp(nameval, name, nlen) == 0)
	if (IS("full_name"))
		return 1;
	if (IS("dsn_envid"))
		return *v != 0 && strlen(v) <= 100 && all_graphic(v);
	if (IS("dsn_ret"))
		return strcasecmp(v, "FULL") == 0 || strcasecmp(v, "HDRS") == 0;
	if (IS("dsn_notify"))
		return v[0] >= '1' && v[0] <= '9' && (v[1] == 0
		    || (v[1] >= '0' && v[1] <= '5' && v[0] == '1' && v[2] == 0));
	if (IS("body_type"))
		return strcasecmp(v, "7BIT") == 0 || strcasecmp(v, "8BITMIME") == 0;
	if (IS("verify_report"))	/* sendmail -bv (QFILE_ATTR_VERIFY_REPORT) */
		return strcmp(v, "1") == 0;
#undef IS
	return 0;
}

int
maildrop_valid_id(const char *name)
{
	size_t n = 0;

	for (const char *cp = name; *cp; cp++, n++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'A' && *cp <= 'F')))
			return 0;
	return n > 0 && n <= 40;
}

/* fail - record the reason and refuse. */
static int
fail(struct maildrop_check *mc, const char *what, int type)
{
	if (type >= 0x21 && type <= 0x7e)
		snprintf(mc->err, sizeof(mc->err), "record %ld (type '%c'): %s",
		    mc->records, type, what);
	else
		snprintf(mc->err, sizeof(mc->err), "record %ld (type %d): %s",
		    mc->records, type & 0xff, what);
	return -1;
}

int
maildrop_check(struct maildrop_check *mc, int type, const char *payload,
    size_t len)
{
	int sec;

	mc->records++;
	switch (type) {
	case MAILDROP_REC_VERSION:
		sec = SEC_VERSION;
		break;
	case MAILDROP_REC_ATTR:
		sec = SEC_ATTR;
		break;
	case MAILDROP_REC_SENDER:
		sec = SEC_SENDER;
		break;
	case MAILDROP_REC_RCPT:
		sec = SEC_RCPT;
		break;
	case MAILDROP_REC_LINE:
	case MAILDROP_REC_CONT:
		sec = SEC_LINE;
		break;
	case MAILDROP_REC_END:
		sec = SEC_END;
		break;
	default:
		return fail(mc, "unknown record type", type);
	}
	if (mc->state == SEC_END)
		return fail(mc, "data after the end record", type);
	if (mc->in_cont && type != MAILDROP_REC_LINE && type != MAILDROP_REC_CONT)
		return fail(mc, "continued line without its end", type);
	if (mc->state == SEC_NONE && sec != SEC_VERSION)
		return fail(mc, "no version record first", type);
	/* V and S once each; the others may repeat; never go backwards. */
	if (sec < mc->state || (sec == mc->state
	    && (sec == SEC_VERSION || sec == SEC_SENDER)))
		return fail(mc, "record out of order", type);
	if (sec > SEC_SENDER && !mc->saw_sender)
		return fail(mc, "no sender record", type);
	if (sec > SEC_RCPT && mc->rcpts == 0)
		return fail(mc, "no recipient record", type);
	switch (type) {
	case MAILDROP_REC_VERSION:
		if (len != strlen(MAILDROP_VERSION)
		    || memcmp(payload, MAILDROP_VERSION, len) != 0)
			return fail(mc, "unsupported format version", type);
		break;
	case MAILDROP_REC_ATTR:
		if (memchr(payload, 0, len) != NULL || !maildrop_attr_ok(payload))
			return fail(mc, "attribute not permitted or malformed",
			    type);
		break;
	case MAILDROP_REC_SENDER:
	case MAILDROP_REC_RCPT:
		if (len > MAILDROP_MAX_ADDR || !printable(payload, len))
			return fail(mc, "malformed address", type);
		if (type == MAILDROP_REC_SENDER)
			mc->saw_sender = 1;
		else if (len == 0)
			return fail(mc, "empty recipient", type);
		else if (++mc->rcpts > MAILDROP_MAX_RCPT)
			return fail(mc, "too many recipients", type);
		break;
	case MAILDROP_REC_LINE:
	case MAILDROP_REC_CONT:
		if (memchr(payload, '\n', len) != NULL)
			return fail(mc, "line record contains a newline", type);
		if (type == MAILDROP_REC_CONT && len == 0)
			return fail(mc, "empty continued line record", type);
		mc->in_cont = type == MAILDROP_REC_CONT;
		break;
	case MAILDROP_REC_END:
		if (len != 0)
			return fail(mc, "end record with a payload", type);
		break;
	}
	mc->state = sec;
	return 0;
}

int
maildrop_check_end(struct maildrop_check *mc)
{
	if (mc->state == SEC_END)
		return 0;
	snprintf(mc->err, sizeof(mc->err), "after %ld records: no end record "
	    "(truncated submission)", mc->records);
	return -1;
}
