/*
 * idx.c -- main() of the `idx` command line: finds the command named by
 * argv[1] among the self-registered ones (see idx_cli.h) and runs it.
 * Nothing else lives here, except quieting OpenBLAS's idle workers at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx_cli.h"

extern const idx_cli_command __start_idx_cli_cmds[] __attribute__((weak));
extern const idx_cli_command __stop_idx_cli_cmds[] __attribute__((weak));

const idx_cli_command *idx_cli_find(const char *name) {
    for (const idx_cli_command *c = __start_idx_cli_cmds; c < __stop_idx_cli_cmds; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static int cmp_cmd(const void *a, const void *b) {
    return strcmp((*(const idx_cli_command *const *)a)->name, (*(const idx_cli_command *const *)b)->name);
}

static void print_help(FILE *f) {
    fprintf(f, "usage: idx COMMAND [options] [args]\n\ncommands:\n");
    const idx_cli_command *list[256];
    size_t n = 0;
    for (const idx_cli_command *c = __start_idx_cli_cmds; c < __stop_idx_cli_cmds && n < 256; c++)
        list[n++] = c;
    qsort(list, n, sizeof list[0], cmp_cmd);
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-14s %s\n", list[i]->name, list[i]->summary);
    fprintf(f, "\n`idx help COMMAND` or `idx COMMAND --help` shows a command's options.\n");
}

/* OpenBLAS (pthreads build) starts its worker threads when the library is
 * loaded, and they busy-wait for work for about 0.1 s before they sleep: each
 * `idx` process burned ~0.09 s of a second core for nothing (half the CPU of
 * a 1,000-query `idx retrieve`). blas_thread_shutdown_ stops them; OpenBLAS
 * starts them again on the first threaded BLAS call (the encoder's sgemm), so
 * only commands that use BLAS pay the spin. Weak: a BLAS without the symbol is
 * left as it is. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

int main(int argc, char **argv) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc > 2) {
            const idx_cli_command *c = idx_cli_find(argv[2]);
            if (!c) {
                fprintf(stderr, "idx: unknown command '%s'\n", argv[2]);
                return 2;
            }
            printf("%s", c->usage);
            return 0;
        }
        print_help(stdout);
        return 0;
    }
    const idx_cli_command *c = idx_cli_find(argv[1]);
    if (!c) {
        fprintf(stderr, "idx: unknown command '%s' (see `idx help`)\n", argv[1]);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", c->usage);
            return 0;
        }
    return c->run(argc - 1, argv + 1);
}
