/*
 * client.h: what the parts of corobus(1), the command-line client, share:
 * the global options (conventions.md §8), the command table, the exit
 * codes (sysexits.h, conventions.md §10) and small helpers for messages,
 * durations and numbers.
 *
 * Every command runs as the main task of one libcoro loop (coro_run()):
 * its exec function may suspend, and returns the process exit status.
 * SIGINT and SIGTERM cancel it; blocking calls then return -ECANCELED.
 */
#ifndef COROBUS_CLIENT_H
#define COROBUS_CLIENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

struct session_opts;

enum cli_color {
	CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER
};

/*
 * The global options, as given on the command line (NULL or 0 when not
 * given); cli_session_opts() merges them with the environment and the
 * client configuration file.
 */
struct cli_opts {
	char		**urls;		/* -L/--url/--server, each may be a
					   comma-separated list */
	size_t		  nurls;
	const char	 *host;		/* -h */
	const char	 *port;		/* -p */
	const char	 *unix_path;	/* --unix */
	const char	 *user;		/* -u */
	const char	 *password;	/* -P */
	bool		  askpass;	/* --askpass */
	const char	 *token;	/* --token */
	const char	 *cafile;	/* --cafile, --tlsca */
	const char	 *capath;	/* --capath */
	const char	 *cert;		/* --cert, --tlscert */
	const char	 *key;		/* --key, --tlskey */
	bool		  tls;		/* --tls */
	bool		  insecure;	/* --insecure */
	const char	 *name;		/* -i, --id */
	int64_t		  timeout_ms;	/* --timeout; -1 = not given */
	const char	 *context;	/* --context */
	int		  debug;	/* -d, repeatable */
	bool		  quiet;	/* --quiet */
	enum cli_color	  color;	/* --color */
};

extern struct cli_opts	cli;

/* Default --timeout: connecting, the handshake, flushes and requests. */
#define CLI_TIMEOUT_MS	5000

/*
 * The command table (cmd.c).  exec gets argv[0] = the command name and
 * returns an exit status (EX_OK, EX_USAGE, ...).  It runs as a task.
 */
struct cmd_entry {
	const char	*name;
	const char	*usage;		/* after "corobus NAME " */
	const char	*summary;	/* one line for --help */
	int		(*exec)(int argc, char **argv);
};

extern const struct cmd_entry	cmd_table[];
extern const size_t		cmd_count;

const struct cmd_entry	*cmd_find(const char *name);

/* The commands. */
int	cmd_pub(int, char **);
int	cmd_sub(int, char **);
int	cmd_req(int, char **);
int	cmd_reply(int, char **);
int	cmd_passwd(int, char **);

/* ---- helpers (corobus.c) ---- */

/* "corobus: message" on stderr, one line. */
void	cli_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* A status line on stderr ("corobus: ..."), unless --quiet. */
void	cli_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Prints "corobus: message" and returns code. */
int	cli_fail(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "corobus NAME: message", then the command's usage line, on stderr;
 * returns EX_USAGE. */
int	cli_usage_error(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Parses a duration: a number with a unit (ms, s, m, h) or a bare number
 * of seconds; fractions are allowed ("1.5s").  Returns 0 and *ms, or -1.
 */
int	cli_parse_duration(const char *, int64_t *ms);
/* A count: 1 to 999999999 (zero_ok: also 0).  0 and *n, or -1. */
int	cli_parse_count(const char *, bool zero_ok, uint64_t *n);

/*
 * The session options for this run: servers from the flags, then
 * COROBUS_URL, then the client configuration file (and context), then
 * the local Unix socket if present, then 127.0.0.1:4240; credentials and
 * TLS files from the flags, else the file.  reconnect is set by the
 * command.  Returns EX_OK, or an exit status after printing why.
 */
int	cli_session_opts(struct session_opts *, bool reconnect);

/* ---- client configuration file (clientconf.c) ---- */

/*
 * What client.yaml may set; strings are malloc'd (or NULL) and live for
 * the run.
 */
struct clientconf {
	char		**servers;
	size_t		  nservers;
	char		 *user;
	char		 *password;
	char		 *token;
	char		 *cafile;
	char		 *capath;
	char		 *cert;
	char		 *key;
	char		 *name;
	int		  tls;		/* -1 unset, 0, 1 */
	int		  insecure;	/* -1 unset, 0, 1 */
	int64_t		  timeout_ms;	/* -1 unset */
};

/*
 * The path of the client configuration file: $XDG_CONFIG_HOME/corobus/
 * client.yaml, else ~/.config/corobus/client.yaml (static buffer), or
 * NULL when neither variable is set.
 */
const char	*clientconf_path(void);
/*
 * Loads path (a missing file is not an error unless context is set) and
 * applies the context's keys over the top-level ones.  Returns EX_OK,
 * or EX_CONFIG after printing "corobus: file:line:col: message".
 */
int		 clientconf_load(const char *path, const char *context,
		    struct clientconf *);

#endif
