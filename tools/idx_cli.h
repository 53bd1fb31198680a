/*
 * idx_cli.h -- what the `idx` commands share: self-registration of commands
 * (each tools/cmd_*.c declares its commands with IDX_CLI_COMMAND and the
 * linker gathers them; no central table to edit), error reporting with exit
 * codes, and a progress printer for stderr.
 *
 * Exit codes: 0 success, 1 runtime failure (bad input, corrupt index, I/O),
 * 2 usage error. Every message goes to stderr as "idx <cmd>: <message>".
 */
#ifndef IDX_CLI_H
#define IDX_CLI_H

#include "idx_common.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;               /* one line for `idx help` */
    const char *usage;                 /* full usage text */
} idx_cli_command;

#define IDX_CLI_CONCAT2(a, b) a##b
#define IDX_CLI_CONCAT(a, b) IDX_CLI_CONCAT2(a, b)
/* Registers a command: IDX_CLI_COMMAND(count, cmd_count, "summary", "usage"). */
#define IDX_CLI_COMMAND(cname, fn, summ, use)                                                  \
    static const idx_cli_command IDX_CLI_CONCAT(idx_cli_cmd_, __LINE__)                        \
        __attribute__((used, section("idx_cli_cmds"), aligned(sizeof(void *)))) = {           \
            #cname, fn, summ, use}

/* Prints "idx CMD: <idx_errmsg() or idx_strerror(e)>" and returns the exit code 1. */
int idx_cli_fail(const char *cmd, idx_err e);
/* Prints "idx CMD: <message>\n<usage>" and returns 2. */
int idx_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A progress callback that prints one updating line on stderr
 * (phase, done/total with unit, rate, ETA). ud is ignored. */
int idx_cli_progress(void *ud, const idx_progress_info *p);
/* Parses sizes like "512M", "2G", "100k", "1000" into bytes. 0 on success. */
int idx_cli_parse_size(const char *s, uint64_t *out);
/* Parses a decimal integer in [0, max] (digits only: no sign, space or
 * suffix; overflow is an error). 0 on success. */
int idx_cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Looks up a command by name (NULL if none). */
const idx_cli_command *idx_cli_find(const char *name);

#endif
