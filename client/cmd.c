/*
 * cmd.c: the command table of corobus(1): each command's name, usage
 * line and one-line summary, and the function that runs it.  A new
 * command adds a row here, a cmd-NAME.c file and its part of corobus.1.
 */
#include "config.h"

#include <string.h>

#include "bench.h"
#include "chat.h"
#include "client.h"

const struct cmd_entry cmd_table[] = {
	{ "pub", "[-lns] [-C count] [-f file] [-H 'K: V'] [-m message] "
	    "[--reply subject] [--sleep duration] [-t] subject [message]",
	    "publish a message", cmd_pub },
	{ "sub", "[-Nv] [-C count] [-F format] [-W duration] [--headers] "
	    "[--json] [--lease duration] [--queue group] [-t] subject ...",
	    "print the messages published on subjects", cmd_sub },
	{ "req", "[-C count] [-H 'K: V'] [--raw] [--replies count] "
	    "[--timeout duration] subject [message]",
	    "send a request and print the reply", cmd_req },
	{ "reply", "[-C count] [--command command | --echo] "
	    "[--queue group] subject [body]",
	    "answer requests", cmd_reply },
	{ "chat", "[-n nick] [--color when] [room ...]",
	    "chat in rooms, from a terminal or a script", cmd_chat },
	{ "bench", "pub|sub|pubsub|queue|mpub|req|reply|idle [--clients n] "
	    "[--csv file] [--json] [--msgs n] [--no-progress] "
	    "[--no-responder] [--pid pid] [--pubs n] [--seconds duration] "
	    "[--size bytes] [--sub-server url] [--subs n] "
	    "[--timeout duration] "
	    "[--window bytes] [subject]",
	    "measure a server: msgs/s, MB/s, latency", cmd_bench },
	{ "passwd", "[-bcD] [-H yescrypt|bcrypt] file user [password]",
	    "add, change or delete a user of a password file", cmd_passwd },
};

const size_t cmd_count = sizeof(cmd_table) / sizeof(cmd_table[0]);

const struct cmd_entry *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < cmd_count; i++)
		if (strcmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	/* natscli spells it "request" */
	if (strcmp(name, "request") == 0)
		return cmd_find("req");
	if (strcmp(name, "publish") == 0)
		return cmd_find("pub");
	if (strcmp(name, "subscribe") == 0)
		return cmd_find("sub");
	return NULL;
}
