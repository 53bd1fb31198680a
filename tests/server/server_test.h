/*
 * server_test.h -- what the end-to-end server tests share: starting
 * `idx serve --port 0 ARGS` as a child and reading the port it prints.
 * Include after ../idx_test.h (t_idx_bin, t_sh) and cmocka.
 */
#ifndef IDX_SERVER_TEST_H
#define IDX_SERVER_TEST_H

#include <poll.h>
#include <signal.h>
#include <unistd.h>

/* Starts the server with stderr appended to errlog; waits up to wait_ms for
 * its first stdout line ("... http://127.0.0.1:PORT ..."); returns its pid. */
static pid_t t_start_server(const char *args, const char *errlog, int wait_ms, unsigned *port) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' serve --port 0 %s 2>>'%s'", t_idx_bin(), args, errlog);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[256];
    size_t n = 0;
    struct pollfd pf = {fds[0], POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pf, 1, wait_ms) > 0) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]);
    const char *p = strstr(line, "http://127.0.0.1:");
    if (!p) {
        fprintf(stderr, "server did not start; first line: '%s'\n", line);
        t_sh("cat '%s' >&2", errlog);
        kill(pid, SIGKILL);
        fail();
    }
    *port = (unsigned)atoi(p + strlen("http://127.0.0.1:"));
    return pid;
}

#endif
