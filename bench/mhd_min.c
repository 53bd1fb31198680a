/*
 * mhd_min.c -- the ceiling for bench/server_bench.sh: the smallest
 * libmicrohttpd server that answers every request with a fixed small JSON,
 * with the same daemon flags as `idx serve` (internal thread pool, epoll,
 * turbo, the connection memory of `idx serve`'s default: 16 KiB, which MHD
 * zeroes after each request) and the same life cycle (answer on the second
 * call, so keep-alive connections stay open). Whatever `idx serve` loses against this on
 * GET /healthz is our own overhead (routing, metrics, JSON).
 *
 * The equal-work ceiling: with WORK_NS > 0 every request first burns WORK_NS
 * nanoseconds of the thread's CPU time (a busy loop on
 * CLOCK_THREAD_CPUTIME_ID), the library's CPU per request as server_lib_bench
 * measures it, and the answer is RESP_BYTES long (a JSON object padded with
 * spaces, the size of the real route's answer). A server on libmicrohttpd
 * with these daemon settings cannot do that request faster on this machine:
 * its requests/s and requests per CPU-second are the best `idx serve` could
 * reach on that route, HTTP and sockets included.
 *
 * Build: cc -O2 -o mhd_min bench/mhd_min.c $(pkg-config --cflags --libs libmicrohttpd)
 * Run:   ./mhd_min PORT THREADS [CONN_MEMORY_BYTES [WORK_NS [RESP_BYTES]]]
 *        (prints "listening on PORT"; stops on SIGTERM/SIGINT)
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char BODY[] = "{\"status\":\"ok\",\"indexes\":1}";
static struct MHD_Response *g_resp;
static long long g_work_ns;

static long long thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    static int first;
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (!*state) {
        *state = &first;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (g_work_ns > 0) {
        long long until = thread_ns() + g_work_ns;
        while (thread_ns() < until) {
        }
    }
    return MHD_queue_response(c, MHD_HTTP_OK, g_resp);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: mhd_min PORT THREADS [CONN_MEMORY_BYTES [WORK_NS [RESP_BYTES]]]\n");
        return 2;
    }
    g_work_ns = argc > 4 ? atoll(argv[4]) : 0;
    size_t resp_len = argc > 5 ? (size_t)atol(argv[5]) : 0;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    static char padded[1 << 20];
    if (resp_len > sizeof BODY - 1 && resp_len <= sizeof padded) { /* {"status":"ok","indexes":1   ...} */
        memcpy(padded, BODY, sizeof BODY - 2);
        memset(padded + sizeof BODY - 2, ' ', resp_len - (sizeof BODY - 2));
        padded[resp_len - 1] = '}';
        g_resp = MHD_create_response_from_buffer(resp_len, padded, MHD_RESPMEM_PERSISTENT);
    } else {
        g_resp = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
    }
    MHD_add_response_header(g_resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO, (uint16_t)atoi(argv[1]), NULL,
        NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)atoi(argv[2]), MHD_OPTION_CONNECTION_LIMIT,
        1024u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(argc > 3 ? atol(argv[3]) : 16384),
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_min: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    printf("listening on %s\n", argv[1]);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(g_resp);
    return 0;
}
