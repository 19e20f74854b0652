/*
 * bench_proto.c: throughput of the wire parser and the MSG encoder.
 *
 * Parses a 4 MiB buffer of back-to-back "PUB foo.bar.baz <n>" frames
 * (16 B and 1 KiB payloads) over and over, and encodes 16 B MSG frames
 * into a write buffer that is reset whenever it passes 1 MiB, as a
 * flushing writer would.  Prints MB/s of input and operations per second.
 *
 *   gcc -O2 -Idaemon bench/bench_proto.c daemon/proto.c daemon/buf.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "proto.h"

#define PARSE_BYTES	(4u << 20)
#define RUN_SECONDS	1.0

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
count_pub(void *arg, const struct proto_msg *m)
{
	uint64_t *n = arg;

	(void)m;
	(*n)++;
	return 0;
}

static void
bench_parse(size_t payload)
{
	struct proto_ops ops = { .pub = count_pub };
	struct proto_parser p;
	struct buf in;
	uint64_t msgs = 0, bytes = 0;
	char line[64], *data;
	size_t ll, frames = 0;
	double t0, t;
	ssize_t n;

	buf_init(&in, BUF_NOLIMIT);
	data = malloc(payload);
	if (data == NULL)
		exit(1);
	memset(data, 'x', payload);
	ll = (size_t)snprintf(line, sizeof(line), "PUB foo.bar.baz %zu\r\n",
	    payload);
	while (buf_len(&in) + ll + payload + 2 <= PARSE_BYTES) {
		buf_append(&in, line, ll);
		buf_append(&in, data, payload);
		buf_append(&in, "\r\n", 2);
		frames++;
	}
	proto_parser_init(&p, PROTO_SERVER);
	t0 = now();
	do {
		n = proto_parse(&p, buf_data(&in), buf_len(&in), &ops, &msgs);
		if (n != (ssize_t)buf_len(&in)) {
			fprintf(stderr, "parse failed: %zd\n", n);
			exit(1);
		}
		bytes += (uint64_t)n;
		t = now() - t0;
	} while (t < RUN_SECONDS);
	printf("parse PUB %5zu B: %8.1f MB/s %10.0f msgs/s (%zu frames per "
	    "%u KiB pass)\n", payload, bytes / t / 1e6, msgs / t, frames,
	    PARSE_BYTES >> 10);
	free(data);
	buf_release(&in);
}

static void
bench_encode(size_t payload)
{
	struct proto_msg m;
	struct buf out;
	uint64_t msgs = 0, bytes = 0;
	char *data;
	double t0, t;
	int i;

	buf_init(&out, 4u << 20);
	data = malloc(payload);
	if (data == NULL)
		exit(1);
	memset(data, 'y', payload);
	memset(&m, 0, sizeof(m));
	m.subject = PROTO_STR("foo.bar.baz");
	m.sid = PROTO_STR("42");
	m.payload.ptr = data;
	m.payload.len = payload;
	t0 = now();
	do {
		for (i = 0; i < 10000; i++) {
			if (proto_put_msg(&out, &m) != 0) {
				fprintf(stderr, "encode failed\n");
				exit(1);
			}
			if (buf_len(&out) > (1u << 20)) {
				bytes += buf_len(&out);
				buf_reset(&out);
			}
		}
		msgs += 10000;
		t = now() - t0;
	} while (t < RUN_SECONDS);
	bytes += buf_len(&out);
	printf("encode MSG %4zu B: %8.1f MB/s %10.0f msgs/s\n", payload,
	    bytes / t / 1e6, msgs / t);
	free(data);
	buf_release(&out);
}

int
main(void)
{
	bench_parse(16);
	bench_parse(1024);
	bench_encode(16);
	bench_encode(1024);
	return 0;
}
