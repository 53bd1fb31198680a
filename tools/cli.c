/*
 * cli.c -- helpers shared by the idx commands: error and usage reporting
 * with fixed exit codes, size parsing, and the stderr progress line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_cli.h"

int idx_cli_fail(const char *cmd, idx_err e) {
    const char *m = idx_errmsg();
    fprintf(stderr, "idx %s: %s\n", cmd, (m && *m) ? m : idx_strerror(e));
    return 1;
}

int idx_cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "idx %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    const idx_cli_command *c = idx_cli_find(cmd);
    if (c && c->usage) fprintf(stderr, "%s", c->usage);
    return 2;
}

int idx_cli_parse_uint(const char *s, uint64_t max, uint64_t *out) {
    if (!s || !isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

int idx_cli_parse_size(const char *s, uint64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    double r = v * mul;
    if (r > 9.0e18) return -1;
    *out = (uint64_t)r;
    return 0;
}

static void human(double v, const char *unit, char *buf, size_t n) {
    if (strcmp(unit, "B") == 0) {
        const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        while (v >= 1024 && i < 4) { v /= 1024; i++; }
        snprintf(buf, n, "%.1f %s", v, u[i]);
    } else {
        snprintf(buf, n, "%.0f %s", v, unit);
    }
}

int idx_cli_progress(void *ud, const idx_progress_info *p) {
    (void)ud;
    char done[32], total[32], rate[40];
    human((double)p->done, p->unit ? p->unit : "", done, sizeof done);
    double r = p->elapsed > 0 ? (double)p->done / p->elapsed : 0;
    human(r, p->unit ? p->unit : "", rate, sizeof rate);
    int tty = isatty(2);
    if (p->total) {
        human((double)p->total, p->unit ? p->unit : "", total, sizeof total);
        double eta = r > 0 ? (double)(p->total - (p->done < p->total ? p->done : p->total)) / r : 0;
        fprintf(stderr, "%s[%s] %s / %s (%.0f%%), %s/s, elapsed %.0fs, ETA %.0fs%s", tty ? "\r" : "",
                p->phase, done, total, 100.0 * (double)p->done / (double)p->total, rate, p->elapsed, eta,
                tty ? "\033[K" : "\n");
    } else {
        fprintf(stderr, "%s[%s] %s, %s/s, elapsed %.0fs%s", tty ? "\r" : "", p->phase, done, rate,
                p->elapsed, tty ? "\033[K" : "\n");
    }
    return 0;
}
