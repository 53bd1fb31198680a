/*
 * cmd_version.c -- `idx version`: the program's version and the versions of
 * the libraries it was built with.
 */
#include <stdio.h>

#include <jansson.h>
#include <zstd.h>

#include "idx_cli.h"

#define IDX_VERSION_STRING "0.1.0"

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("idx %s (zstd %s, jansson %s)\n", IDX_VERSION_STRING, ZSTD_versionString(), JANSSON_VERSION);
    return 0;
}

IDX_CLI_COMMAND(version, cmd_version, "print the version of idx and its libraries", "usage: idx version\n");
