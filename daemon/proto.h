/*
 * proto.h: the NATS wire protocol, parser and encoder, with no I/O.
 *
 * Shared by corobusd (server side and routes) and corobus (client side).
 * The rules implemented are those of docs/nats-protocol.md §1 and §3.4.
 *
 * Parsing is zero-copy and keeps no bytes of its own: the caller holds the
 * unread bytes in one contiguous buffer and calls proto_parse() on them
 * whenever more arrive.  proto_parse() handles every whole frame, reports
 * each one through a callback with pointers into that buffer (valid only
 * during the callback), and returns how many bytes it consumed.  A partial
 * frame at the end is left in place: the caller keeps it at the front of
 * its buffer, appends the next bytes behind it and calls again.  Once a
 * control line is complete, proto_parser_need() says how big the whole
 * frame is, so the caller can grow its buffer once and wait for that many
 * bytes instead of calling again on every read.
 *
 * Encoding appends whole frames to a struct buf (all or nothing), with
 * exactly one space between fields and "\r\n" line ends.
 */
#ifndef COROBUS_PROTO_H
#define COROBUS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* What the parser accepts depends on which side of the link it is. */
enum proto_mode {
	PROTO_SERVER,	/* client connection seen by the server:
			   CONNECT PUB HPUB SUB UNSUB PING PONG */
	PROTO_CLIENT,	/* server seen by a client:
			   INFO MSG HMSG PING PONG +OK -ERR */
	PROTO_ROUTE,	/* route peer: INFO CONNECT PING PONG RS+ RS- LS+
			   LS- RMSG HMSG LMSG +OK -ERR */
};

enum proto_op {
	PROTO_OP_CONNECT = 1,
	PROTO_OP_INFO,
	PROTO_OP_PUB,
	PROTO_OP_HPUB,
	PROTO_OP_SUB,
	PROTO_OP_UNSUB,
	PROTO_OP_PING,
	PROTO_OP_PONG,
	PROTO_OP_OK,
	PROTO_OP_ERR,
	PROTO_OP_MSG,
	PROTO_OP_HMSG,		/* client side: HMSG <subject> <sid> ... */
	PROTO_OP_RS_PLUS,
	PROTO_OP_RS_MINUS,
	PROTO_OP_LS_PLUS,
	PROTO_OP_LS_MINUS,
	PROTO_OP_RMSG,
	PROTO_OP_RHMSG,		/* route side: HMSG <account> <subject> ... */
	PROTO_OP_LMSG,
};

/*
 * Error codes, all negative.  The parser returns the first group; the
 * rest are there so that the daemon sends every -ERR of §1.9 from the
 * same table (proto_error_text, proto_error_closes, proto_put_error).
 */
enum proto_error {
	/* Parser errors; all of them close the connection. */
	PROTO_EUNKNOWN		= -1,	/* unknown verb, missing WS after a
					   verb, '\r' not followed by '\n' */
	PROTO_EBADEND		= -2,	/* payload not followed by "\r\n" */
	PROTO_ECTLLINE		= -3,	/* argument part > max_control_line */
	PROTO_EPAYLOAD		= -4,	/* size (HPUB: total) > max_payload */
	PROTO_EARGS		= -5,	/* wrong argument count (no -ERR) */
	PROTO_ENUMBER		= -6,	/* size not 1 to 9 digits (no -ERR) */
	PROTO_EHDRSIZE		= -7,	/* header size > total (no -ERR) */
	/* Connection-level errors found by the daemon. */
	PROTO_EJSON		= -8,	/* CONNECT JSON invalid (no -ERR) */
	PROTO_ENOHEADERS	= -9,	/* HPUB without headers (no -ERR) */
	PROTO_EAUTH		= -10,
	PROTO_EAUTHTIMEOUT	= -11,
	PROTO_ETLSREQUIRED	= -12,
	PROTO_EMAXCONN		= -13,
	PROTO_EPROTOCOL		= -14,
	PROTO_ENORESPONDERS	= -15,
	PROTO_ESTALE		= -16,
	PROTO_EROUTEPORT	= -17,
	PROTO_EAUTHEXPIRED	= -18,
	/* These keep the connection open. */
	PROTO_ESUBJECT		= -19,
	PROTO_EPUBSUBJECT	= -20,
	PROTO_EMAXSUBS		= -21,
	PROTO_EPERMPUB		= -22,	/* text is a prefix: see */
	PROTO_EPERMSUB		= -23,	/* proto_put_err_perm() */
	PROTO_EPERMREPLY	= -24,
};

/*
 * A callback that wants proto_parse() to stop returns a negative value;
 * use PROTO_ESTOP or anything below it so it can't be mistaken for a
 * parser error (returning a PROTO_E* code is fine too when that is what
 * happened, e.g. PROTO_EJSON from the connect callback).
 */
#define PROTO_ESTOP		(-64)

#define PROTO_MAX_CONTROL_LINE	4096		/* nats-server defaults */
#define PROTO_MAX_PAYLOAD	1048576
#define PROTO_MAX_SIZE		999999999	/* 9 digits */

/* A byte string borrowed from somewhere else; not NUL-terminated. */
struct proto_str {
	const char	*ptr;		/* NULL when absent */
	size_t		 len;
};

#define PROTO_STR(lit)	((struct proto_str){ (lit), sizeof(lit) - 1 })

/*
 * A message frame: PUB, HPUB (server side), MSG, HMSG (client side),
 * RMSG, HMSG, LMSG (routes).  Fields a verb doesn't carry are absent.
 * hdr is the whole header block ("NATS/1.0...\r\n\r\n"), payload what
 * follows it; a header size of 0 leaves hdr empty (op says HPUB/HMSG).
 */
struct proto_msg {
	enum proto_op	 op;
	struct proto_str origin;	/* LMSG: origin cluster */
	struct proto_str account;	/* routes */
	struct proto_str subject;
	struct proto_str sid;		/* MSG, HMSG (client side) */
	struct proto_str reply;
	struct proto_str queues;	/* routes: "q1 q2 ...", WS-separated as
					   received; iterate with
					   proto_next_token() */
	unsigned	 nqueues;
	struct proto_str hdr;
	struct proto_str payload;
};

/*
 * SUB, UNSUB (server side), RS+, RS-, LS+, LS- (routes).
 */
struct proto_sub {
	enum proto_op	 op;
	struct proto_str origin;	/* LS+ */
	struct proto_str account;	/* routes */
	struct proto_str subject;	/* not in UNSUB */
	struct proto_str queue;		/* absent: plain subscription */
	struct proto_str sid;		/* SUB, UNSUB */
	uint32_t	 weight;	/* RS+/LS+ with a queue */
	uint32_t	 max_msgs;	/* UNSUB; 0 = remove at once */
	bool		 has_max;	/* UNSUB gave a max_msgs argument */
	bool		 bad_max;	/* ... that wasn't 1 to 9 digits
					   (max_msgs is then 0) */
};

/*
 * Callbacks, one per kind of frame; NULL ones are skipped (the frame is
 * still checked and consumed).  Each returns 0 to go on or a negative
 * value to make proto_parse() stop and return it.  Pointers are into the
 * caller's buffer and valid only during the call.
 */
struct proto_ops {
	int	(*connect)(void *arg, const char *json, size_t len);
	int	(*info)(void *arg, const char *json, size_t len);
	int	(*pub)(void *arg, const struct proto_msg *);	/* PUB HPUB */
	int	(*msg)(void *arg, const struct proto_msg *);	/* MSG HMSG
							   RMSG LMSG */
	int	(*sub)(void *arg, const struct proto_sub *);	/* SUB RS+ LS+ */
	int	(*unsub)(void *arg, const struct proto_sub *);	/* UNSUB RS-
							   LS- */
	int	(*ping)(void *arg);
	int	(*pong)(void *arg);
	int	(*ok)(void *arg);
	/* -ERR: the text with its single quotes removed. */
	int	(*err)(void *arg, const char *text, size_t len);
};

/*
 * Per-connection parser state.  Embed it; fields are private except the
 * two limits, which proto_parser_init() sets per mode and the owner may
 * change between calls (0 = no limit):
 *   PROTO_SERVER: PROTO_MAX_CONTROL_LINE, PROTO_MAX_PAYLOAD
 *   PROTO_CLIENT, PROTO_ROUTE: 64 KiB control lines (INFO lines grow with
 *   the cluster; nats-server 2.9 doesn't limit route lines at all, but
 *   the caller's buffer must stay bounded), 64 MiB payloads (the server's
 *   INFO max_payload, once known, is the right value on a client).
 * The control line limit applies to the argument part, from the first
 * non-WS byte after the verb to the line end; the WS run after the verb
 * is limited separately to the same length, and PING/PONG/+OK accept up
 * to max_control_line + 1 ignored bytes.
 */
struct proto_parser {
	enum proto_mode	 mode;
	size_t		 max_control_line;
	size_t		 max_payload;
	/* private */
	size_t		 scan;		/* pending line: bytes known free of
					   '\n' and of stray '\r' */
	size_t		 need;		/* pending frame's total size, or 0 */
	size_t		 consumed;	/* by the last proto_parse() */
	int		 error;		/* sticky parse error, or 0 */
};

void	 proto_parser_init(struct proto_parser *, enum proto_mode);
/* Forgets any pending frame and any error. */
void	 proto_parser_reset(struct proto_parser *);

/*
 * Parses the frames at the start of buf[0, len).  buf must begin with the
 * bytes the previous call left unconsumed.  Returns the number of bytes
 * consumed (whole frames only, possibly 0) or a negative value: a parse
 * error (enum proto_error; sticky: every later call returns it until
 * proto_parser_reset) or the value a callback returned to stop (not
 * sticky: the frame whose callback stopped is consumed, and the next call
 * resumes after it).  After a negative return proto_parser_consumed()
 * tells how many bytes the frames before it (and a stopping one) used.
 */
ssize_t	 proto_parse(struct proto_parser *, const char *buf, size_t len,
	    const struct proto_ops *, void *arg);
size_t	 proto_parser_consumed(const struct proto_parser *);
/*
 * After proto_parse() left a partial frame whose control line is
 * complete: that frame's total size in bytes (control line, header block,
 * payload and "\r\n").  Until that many bytes are buffered a call would
 * consume nothing.  0 when unknown (the control line is incomplete).
 */
size_t	 proto_parser_need(const struct proto_parser *);

/* "Unknown Protocol Operation", ... or NULL when no -ERR is sent. */
const char	*proto_error_text(int code);
/* Whether the connection must be closed (true for unknown codes). */
bool		 proto_error_closes(int code);

/*
 * Parses a size as the protocol does: 1 to 9 ASCII digits.  Returns the
 * value or -1.
 */
int32_t	 proto_parse_size(const char *, size_t);

/*
 * Takes the next WS-separated token off the front of list (for route
 * queue lists).  Returns false when none is left.
 */
bool	 proto_next_token(struct proto_str *list, struct proto_str *tok);

/*
 * Encoders.  Each appends one whole frame to the buffer or nothing, and
 * returns 0 or a buf error (-ENOBUFS, -ENOMEM).  They don't validate
 * subjects or tokens: that is the caller's job.  An absent reply or
 * queue is a proto_str with len 0; a struct proto_msg carries a header
 * block when hdr.len > 0 (HPUB/HMSG), else the frame is PUB/MSG.
 */
int	 proto_put_info(struct buf *, const char *json, size_t len);
int	 proto_put_connect(struct buf *, const char *json, size_t len);
int	 proto_put_ping(struct buf *);
int	 proto_put_pong(struct buf *);
int	 proto_put_ok(struct buf *);
/* -ERR 'text' */
int	 proto_put_err(struct buf *, const char *text, size_t len);
/* -ERR with proto_error_text(code); -EINVAL when that is NULL. */
int	 proto_put_error(struct buf *, int code);
/*
 * -ERR 'Permissions Violation for ... "S"' for PROTO_EPERMPUB,
 * PROTO_EPERMSUB (with ' using queue "Q"' when queue.len > 0) and
 * PROTO_EPERMREPLY; subject and queue are quoted like Go's %q.
 */
int	 proto_put_err_perm(struct buf *, int code, struct proto_str subject,
	    struct proto_str queue);

/* PUB/HPUB from subject, reply, hdr, payload. */
int	 proto_put_pub(struct buf *, const struct proto_msg *);
/* SUB subject [queue] sid; UNSUB sid [max_msgs] (max_msgs 0: none). */
int	 proto_put_sub(struct buf *, struct proto_str subject,
	    struct proto_str queue, struct proto_str sid);
int	 proto_put_unsub(struct buf *, struct proto_str sid,
	    uint32_t max_msgs);
/* MSG/HMSG from subject, sid, reply, hdr, payload. */
int	 proto_put_msg(struct buf *, const struct proto_msg *);
/*
 * MSG for a receiver that didn't negotiate headers: the header block is
 * left out and the size is that of the payload alone.
 */
int	 proto_put_msg_nohdr(struct buf *, const struct proto_msg *);
/* RS+ account subject [queue weight]; RS- account subject [queue]. */
int	 proto_put_rs_plus(struct buf *, struct proto_str account,
	    struct proto_str subject, struct proto_str queue,
	    uint32_t weight);
int	 proto_put_rs_minus(struct buf *, struct proto_str account,
	    struct proto_str subject, struct proto_str queue);
/*
 * RMSG/HMSG (route form) from account, subject, reply, hdr, payload.
 * Queue names come from queues[0, nqueues) or, when queues is NULL, from
 * m->queues (re-spaced); with any, the frame says "+ reply q..." or
 * "| q...".
 */
int	 proto_put_rmsg(struct buf *, const struct proto_msg *,
	    const struct proto_str *queues, size_t nqueues);

/*
 * Writes v in decimal at dst (which has room for 20 bytes) and returns
 * the number of digits.
 */
size_t	 proto_utoa(char *dst, uint64_t v);

#endif
