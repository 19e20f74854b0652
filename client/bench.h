/*
 * bench.h: the load generator behind "corobus bench" (bench.c): raw
 * NATS-protocol connections on the running libcoro loop, batched PUB
 * frames, subscribers that only count MSG frames, request/reply with
 * latency percentiles, and idle connections; CPU use of this process and,
 * given its pid, of the server (/proc).  cmd-bench.c parses the options,
 * resolves the server and prints what bench_run() measured.
 */
#ifndef COROBUS_BENCH_H
#define COROBUS_BENCH_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssl_ctx_st;

enum bench_mode {
	BENCH_PUB,		/* publish only */
	BENCH_SUB,		/* subscribe and count */
	BENCH_PUBSUB,		/* pubs -> subs, each subscriber gets all */
	BENCH_QUEUE,		/* pubs -> subs in one queue group */
	BENCH_MPUB,		/* several publishers -> one subscriber */
	BENCH_REQ,		/* request/reply, one request per client */
	BENCH_REPLY,		/* answer requests */
	BENCH_IDLE,		/* connections holding one SUB each */
	BENCH_NMODES
};

extern const char *const	bench_mode_names[BENCH_NMODES];

/* Where the connections go: what the client's options resolved to. */
struct bench_target {
	const char		*host;		/* TCP, or NULL */
	const char		*port;
	const char		*path;		/* Unix socket, or NULL */
	bool			 tls;		/* TLS even if not required */
	struct ssl_ctx_st	*ssl;		/* for TLS; NULL: none */
	const char		*connect;	/* the CONNECT JSON object */
	int64_t			 timeout_ms;	/* connect + handshake */
};

/* A snapshot for the progress line, once a second. */
struct bench_progress {
	double		 elapsed_s;
	uint64_t	 sent;		/* published, requests sent */
	uint64_t	 delivered;	/* MSG frames received, replies */
	uint64_t	 expected;	/* 0 when unknown */
	int		 open;		/* idle: connections opened */
};

struct bench_opts {
	enum bench_mode		 mode;
	const char		*subject;
	uint64_t		 msgs;		/* see corobus(1): per mode */
	size_t			 size;		/* payload bytes */
	int			 pubs, subs, clients;
	int64_t			 seconds_ms;	/* req, reply, idle; 0: none */
	int64_t			 timeout_ms;	/* the whole run; 0: none */
	int64_t			 reply_timeout_ms; /* req: then lost */
	size_t			 window;	/* bytes in flight */
	pid_t			 pid;		/* the server, or 0 */
	bool			 no_responder;	/* req: use a running one */
	struct bench_target	 target;
	/* pubsub, mpub: the subscribers' server when its host or path is
	 * set (another node of a cluster); else target */
	struct bench_target	 sub_target;
	void			(*progress)(const struct bench_progress *,
				    void *);
	void			*progress_arg;
};

/* What a run measured.  Percentages are of one core; -1 when unknown. */
struct bench_result {
	uint64_t	 sent;		/* messages published, requests sent,
					   replies sent (reply) */
	uint64_t	 delivered;	/* MSG frames received: deliveries,
					   replies (req), requests (reply) */
	uint64_t	 expected;	/* deliveries a complete run gets */
	uint64_t	 dbytes;	/* payload bytes delivered */
	uint64_t	 lost;		/* expected - delivered */
	int		 slow;		/* subscribers cut off by the server */
	int		 errors;	/* -ERR, broken connections */
	int		 server_errors;	/* of which -ERR */
	double		 elapsed_s;
	double		 gen_cpu_pct;
	double		 srv_cpu_pct;
	long		 srv_rss_kb;	/* at the end */
	/* req: latency of the replies, microseconds */
	double		 p50_us, p90_us, p99_us, p999_us, max_us;
	/* idle */
	int		 open;
	double		 connect_s;
	long		 rss_before_kb, rss_after_kb;
	bool		 interrupted;	/* SIGINT, SIGTERM */
	bool		 timed_out;	/* the run hit timeout_ms */
	char		 last_error[256];
};

/*
 * Runs the benchmark on the current loop (from a task) and fills res.
 * Returns 0 when it ran (res says how well), or a negative errno when
 * it could not start (no connection: res->last_error says why).
 * May suspend.
 */
int	bench_run(const struct bench_opts *, struct bench_result *res);

/* "corobus bench" (cmd-bench.c), in the command table. */
int	cmd_bench(int, char **);

#endif
