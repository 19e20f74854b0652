/*
 * hola.c: the smallest libcoro program.  coro_run() makes a loop, runs
 * one function as its main task and frees the loop; coro_sleep() suspends
 * only that task, so the loop could serve others meanwhile.  Prints
 * "Hola 1", "Hola 2" and "Hola 3", one second apart.
 */
#include <stdio.h>
#include <string.h>

#include "coro.h"

static int
hola(void *arg)
{
	int i, err;

	(void)arg;
	for (i = 1; i <= 3; i++) {
		if (i > 1 && (err = coro_sleep(1000)) != 0)
			return err;
		printf("Hola %d\n", i);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: hola\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((err = coro_run(hola, NULL, NULL)) != 0) {
		fprintf(stderr, "hola: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
