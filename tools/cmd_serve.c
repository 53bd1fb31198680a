/*
 * cmd_serve.c -- `idx serve`: parses options, loads the indexes, starts the
 * HTTP server (server/idx_server.h) and waits for signals: SIGTERM/SIGINT
 * stop it gracefully (requests in flight finish), SIGHUP re-reads the index
 * list (the command line plus --index-list) and swaps it in without dropping
 * a connection. `idx serve --reload --pid-file F` sends that SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "idx_cli.h"
#include "idx_server.h"

#define SERVE_USAGE                                                                            \
    "usage: idx serve [options] [NAME=]INDEX_DIR...\n"                                           \
    "       idx serve --model [NAME=]MODEL_DIR [options] [[NAME=]INDEX_DIR...]\n"                  \
    "Serves indexes over HTTP (JSON API; see the HTTP API section of README.md and docs/openapi.yaml).\n"          \
    "  --host ADDR          address to bind (default 127.0.0.1)\n"                              \
    "  --port N             TCP port (default 8080; 0 = any free port, printed)\n"              \
    "  --threads N          worker threads (default: number of CPUs)\n"                         \
    "  --api-key-file FILE  require 'Authorization: Bearer <key>' (key = file's first line)\n"  \
    "  --index-list FILE    more indexes, one [NAME=]DIR per line (re-read on SIGHUP)\n"        \
    "  --max-body SIZE      largest request body (default 8M; larger: 413)\n"                   \
    "  --max-query N        largest query string in bytes (default 4096)\n"                     \
    "  --max-batch N        most queries/entries per request (default 1000)\n"                  \
    "  --max-suffix N       longest infgram suffix in bytes, and its default (default 256)\n"     \
    "  --timeout-ms MS      per-request deadline (default 10000; past it: 504)\n"               \
    "  --max-connections N  open connections (default 1024)\n"                                  \
    "  --max-per-ip N       open connections per client address (default 512)\n"                \
    "  --conn-memory SIZE   memory per connection for headers and buffers (default 16k)\n"     \
    "  --conn-timeout S     idle connection timeout in seconds (default 30)\n"                  \
    "  --model [NAME=]DIR   serve this encoder on POST /v1/embeddings (OpenAI format; repeatable;\n" \
    "                       default name: the directory's base name). Indexes with a dense part\n" \
    "                       serve their own model too, and dense/hybrid /v1/retrieve\n"         \
    "  --model-threads N    encoder threads per embeddings request (default 1)\n"              \
    "  --pid-file FILE      write the server's pid there\n"                                     \
    "  --reload             send SIGHUP to the server of --pid-file (re-read indexes) and exit\n" \
    "Signals: SIGTERM/SIGINT stop after requests in flight; SIGHUP reloads the indexes.\n"

typedef struct {
    idx_server_index_spec *v;
    size_t n, cap;
    char **owned;
    size_t nowned;
} spec_list;

static void specs_free(spec_list *l) {
    for (size_t i = 0; i < l->nowned; i++) free(l->owned[i]);
    free(l->owned);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Adds "[NAME=]DIR" (copied). */
static int specs_add(spec_list *l, const char *arg) {
    char *s = strdup(arg);
    char **o = realloc(l->owned, (l->nowned + 1) * sizeof *o);
    if (!s || !o) {
        free(s);
        if (o) l->owned = o;
        return -1;
    }
    l->owned = o;
    l->owned[l->nowned++] = s;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        idx_server_index_spec *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    char *eq = strchr(s, '=');
    char *slash = strchr(s, '/');
    if (eq && (!slash || eq < slash)) {
        *eq = '\0';
        l->v[l->n].name = s;
        l->v[l->n].dir = eq + 1;
    } else {
        l->v[l->n].name = NULL;
        l->v[l->n].dir = s;
    }
    l->n++;
    return 0;
}

/* The command-line directories plus the lines of the list file. */
static idx_err build_specs(char **dirs, int ndirs, const char *list_file, spec_list *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < ndirs; i++)
        if (specs_add(out, dirs[i])) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!list_file) return IDX_OK;
    idx_buf b = {0};
    idx_err e = idx_read_file(list_file, 1u << 20, &b);
    if (e) return e;
    char *save = NULL;
    for (char *line = strtok_r(b.data ? b.data : "", "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\r' || line[n - 1] == '\t')) line[--n] = '\0';
        if (!*line || *line == '#') continue;
        if (specs_add(out, line)) {
            idx_buf_free(&b);
            return idx_fail(IDX_ERR_NOMEM, "out of memory");
        }
    }
    idx_buf_free(&b);
    return IDX_OK;
}

static int sig_pipe[2] = {-1, -1};

/* Async-signal-safe: hands the signal to the main loop. */
static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) { /* pipe full: a signal is pending anyway */
    }
    errno = saved;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v) {
    uint64_t x;
    if (idx_cli_parse_uint(s, max, &x)) return -1;
    *v = (unsigned long)x;
    return 0;
}

static int cmd_serve(int argc, char **argv) {
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},       {"port", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'},    {"api-key-file", required_argument, 0, 'k'},
        {"index-list", required_argument, 0, 'l'}, {"max-body", required_argument, 0, 'b'},
        {"max-query", required_argument, 0, 'q'},  {"max-batch", required_argument, 0, 'B'},
        {"timeout-ms", required_argument, 0, 'T'}, {"max-connections", required_argument, 0, 'c'},
        {"max-per-ip", required_argument, 0, 'i'}, {"conn-memory", required_argument, 0, 'm'},
        {"conn-timeout", required_argument, 0, 'C'}, {"pid-file", required_argument, 0, 'P'},
        {"reload", no_argument, 0, 'R'},           {"max-text", required_argument, 0, 'X'},
        {"max-suffix", required_argument, 0, 'S'},           {"help", no_argument, 0, 'h'},
        {"model", required_argument, 0, 'M'},      {"model-threads", required_argument, 0, 'N'},
        {0, 0, 0, 0}};
    idx_server_opts o;
    memset(&o, 0, sizeof o);
    o.port = 8080;
    const char *key_file = NULL, *list_file = NULL, *pid_file = NULL;
    int reload = 0;
    char *models[64];
    int nmodels = 0;
    unsigned long model_threads = 1;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        unsigned long v;
        uint64_t sz;
        switch (ch) {
        case 'H': o.host = optarg; break;
        case 'p':
            if (parse_uint(optarg, 65535, &v)) return idx_cli_usage("serve", "bad --port '%s'", optarg);
            o.port = (unsigned)v;
            break;
        case 't':
            if (parse_uint(optarg, 1024, &v) || !v) return idx_cli_usage("serve", "bad --threads '%s'", optarg);
            o.threads = (unsigned)v;
            break;
        case 'k': key_file = optarg; break;
        case 'l': list_file = optarg; break;
        case 'b':
            if (idx_cli_parse_size(optarg, &sz) || !sz) return idx_cli_usage("serve", "bad --max-body '%s'", optarg);
            o.max_body = (size_t)sz;
            break;
        case 'q':
            if (parse_uint(optarg, 1ul << 30, &v) || !v) return idx_cli_usage("serve", "bad --max-query '%s'", optarg);
            o.max_query = v;
            break;
        case 'B':
            if (parse_uint(optarg, 1ul << 24, &v) || !v) return idx_cli_usage("serve", "bad --max-batch '%s'", optarg);
            o.max_batch = v;
            break;
        case 'T': {
            char *end;
            double ms = strtod(optarg, &end);
            if (end == optarg || *end || !(ms > 0)) return idx_cli_usage("serve", "bad --timeout-ms '%s'", optarg);
            o.timeout_ms = ms;
            break;
        }
        case 'c':
            if (parse_uint(optarg, 1u << 20, &v) || !v) return idx_cli_usage("serve", "bad --max-connections '%s'", optarg);
            o.max_connections = (unsigned)v;
            break;
        case 'i':
            if (parse_uint(optarg, 1u << 20, &v) || !v) return idx_cli_usage("serve", "bad --max-per-ip '%s'", optarg);
            o.max_per_ip = (unsigned)v;
            break;
        case 'm':
            if (idx_cli_parse_size(optarg, &sz) || sz < 4096) return idx_cli_usage("serve", "bad --conn-memory '%s' (at least 4k)", optarg);
            o.conn_memory = (size_t)sz;
            break;
        case 'C':
            if (parse_uint(optarg, 86400, &v) || !v) return idx_cli_usage("serve", "bad --conn-timeout '%s'", optarg);
            o.conn_timeout_s = (unsigned)v;
            break;
        case 'X':
            if (idx_cli_parse_size(optarg, &sz) || !sz) return idx_cli_usage("serve", "bad --max-text '%s'", optarg);
            o.max_text = (size_t)sz;
            break;
        case 'S':
            if (parse_uint(optarg, 1u << 20, &v) || !v) return idx_cli_usage("serve", "bad --max-suffix '%s'", optarg);
            o.max_suffix = v;
            break;
        case 'M':
            if (nmodels == 64) return idx_cli_usage("serve", "at most 64 --model");
            models[nmodels++] = optarg;
            break;
        case 'N':
            if (parse_uint(optarg, 256, &model_threads) || !model_threads)
                return idx_cli_usage("serve", "bad --model-threads '%s'", optarg);
            break;
        case 'P': pid_file = optarg; break;
        case 'R': reload = 1; break;
        case 'h': fputs(SERVE_USAGE, stdout); return 0;
        default: return idx_cli_usage("serve", "unknown option");
        }
    }
    if (reload) {
        if (!pid_file) return idx_cli_usage("serve", "--reload needs --pid-file");
        idx_buf b = {0};
        idx_err e = idx_read_file(pid_file, 64, &b);
        if (e) return idx_cli_fail("serve", e);
        long pid = b.data ? strtol(b.data, NULL, 10) : 0;
        idx_buf_free(&b);
        if (pid <= 1 || kill((pid_t)pid, SIGHUP) != 0) {
            fprintf(stderr, "idx serve: cannot signal pid %ld from %s: %s\n", pid, pid_file,
                    pid > 1 ? strerror(errno) : "no pid in file");
            return 1;
        }
        return 0;
    }
    char **dirs = argv + optind;
    int ndirs = argc - optind;
    if (ndirs == 0 && !list_file && !nmodels)
        return idx_cli_usage("serve", "give at least one INDEX_DIR, --index-list or --model");

    char *api_key = NULL;
    if (key_file) {
        idx_buf b = {0};
        idx_err e = idx_read_file(key_file, 4096, &b);
        if (e) return idx_cli_fail("serve", e);
        size_t n = strcspn(b.data ? b.data : "", "\r\n");
        while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\t')) n--;
        api_key = strndup(b.data ? b.data : "", n);
        idx_buf_free(&b);
        if (!api_key || !*api_key) {
            free(api_key);
            fprintf(stderr, "idx serve: %s: the API key file's first line is empty\n", key_file);
            return 1;
        }
        o.api_key = api_key;
    }

    /* Signals: SIGPIPE ignored (a client that hangs up must not kill us).
     * SIGINT/SIGTERM/SIGHUP go through a self-pipe read by this thread:
     * whichever thread the kernel picks (libraries and sanitizers start
     * threads of their own, so blocking the signals in ours is not enough),
     * the handler only writes the signal number to the pipe. */
    if (pipe(sig_pipe) != 0) {
        fprintf(stderr, "idx serve: pipe: %s\n", strerror(errno));
        free(api_key);
        return 1;
    }
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    idx_server *s = NULL;
    spec_list specs;
    idx_err e = idx_server_new(&o, &s);
    free(api_key);
    /* encoders run on the server's worker threads: OpenBLAS must not add its own */
    if (!e) openblas_set_num_threads(1);
    for (int i = 0; !e && i < nmodels; i++) {
        char *eq = strchr(models[i], '='), *slash = strchr(models[i], '/');
        char *name = NULL;
        const char *mdir = models[i];
        if (eq && (!slash || eq < slash)) {
            name = strndup(models[i], (size_t)(eq - models[i]));
            mdir = eq + 1;
        }
        e = idx_server_add_model(s, name, mdir, (int)model_threads);
        free(name);
    }
    if (!e) e = build_specs(dirs, ndirs, list_file, &specs);
    if (!e) {
        e = idx_server_load(s, specs.v, specs.n);
        specs_free(&specs);
    }
    if (!e) e = idx_server_start(s);
    if (e) {
        idx_server_free(s);
        return idx_cli_fail("serve", e);
    }
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "idx serve: cannot write %s: %s\n", pid_file, strerror(errno));
            idx_server_free(s);
            return 1;
        }
    }
    printf("idx serve: listening on http://%s:%u\n", o.host ? o.host : "127.0.0.1", idx_server_port(s));
    fflush(stdout);

    int rc = 0;
    for (;;) {
        unsigned char b;
        ssize_t got = read(sig_pipe[0], &b, 1);
        if (got != 1) {
            if (got < 0 && errno == EINTR) continue;
            break;
        }
        int sig = b;
        if (sig == SIGHUP) {
            e = build_specs(dirs, ndirs, list_file, &specs);
            if (!e) {
                e = idx_server_load(s, specs.v, specs.n);
                specs_free(&specs);
            }
            if (e)
                fprintf(stderr, "idx serve: reload failed, still serving the previous indexes: %s\n",
                        idx_errmsg());
            else
                fprintf(stderr, "idx serve: reloaded the indexes\n");
            continue;
        }
        fprintf(stderr, "idx serve: %s, finishing requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    idx_server_stop(s, 10.0);
    idx_server_free(s);
    fprintf(stderr, "idx serve: stopped\n");
    return rc;
}

IDX_CLI_COMMAND(serve, cmd_serve, "serve indexes over HTTP (JSON API, infini-gram mini compatible)",
                SERVE_USAGE);
