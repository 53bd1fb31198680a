/*
 * error.c -- the library's one error enum and its per-thread message.
 * A failing call records a formatted message with idx_fail() and returns the
 * code; callers up the stack may add context with idx_fail_context(). The CLI
 * and the server read the message back with idx_errmsg().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "idx_common.h"

#define IDX_ERRMSG_MAX 1024
static _Thread_local char errmsg[IDX_ERRMSG_MAX];

const char *idx_strerror(idx_err code) {
    switch (code) {
    case IDX_OK: return "ok";
    case IDX_ERR_NOMEM: return "out of memory";
    case IDX_ERR_IO: return "input/output error";
    case IDX_ERR_CORRUPT: return "corrupt index file";
    case IDX_ERR_VERSION: return "unsupported format version";
    case IDX_ERR_INVALID: return "invalid argument";
    case IDX_ERR_PARSE: return "malformed input";
    case IDX_ERR_NOT_FOUND: return "not found";
    case IDX_ERR_UNSUPPORTED: return "unsupported";
    case IDX_ERR_LIMIT: return "limit exceeded";
    case IDX_ERR_TIMEOUT: return "timed out";
    case IDX_ERR_EMPTY: return "nothing to do (empty input)";
    case IDX_ERR_NETWORK: return "remote service error";
    case IDX_ERR_INTERNAL: return "internal error";
    case IDX_ERR_CANCELLED: return "cancelled";
    case IDX_ERR_EXISTS: return "already exists";
    }
    return "unknown error";
}

idx_err idx_fail(idx_err code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

idx_err idx_fail_context(idx_err code, const char *fmt, ...) {
    char prefix[IDX_ERRMSG_MAX], old[IDX_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    if (old[0])
        snprintf(errmsg, sizeof errmsg, "%s: %s", prefix, old);
    else
        snprintf(errmsg, sizeof errmsg, "%s: %s", prefix, idx_strerror(code));
    return code;
}

const char *idx_errmsg(void) { return errmsg; }
void idx_errclear(void) { errmsg[0] = 0; }
