/*
 * Helpers shared by the benchmarks that run real `knoten` processes
 * (bench_sync, bench_docs, bench_propagation): a monotonic clock, running a
 * command to its end, starting and stopping `knoten run`, a free loopback
 * port, a process's CPU seconds and memory from /proc, and removing a
 * directory tree. Header-only (static functions) because every benchmark
 * source is its own program.
 */
#ifndef KN_BENCH_PROC_H
#define KN_BENCH_PROC_H

#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static inline double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Runs argv to completion, stdout to out (or /dev/null); returns the exit status. */
static inline int run(char *const argv[], const char *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(
        &fa, 1, out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline pid_t start_node(const char *knoten, const char *dir, int port)
{
    char listen[64], log[600];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(log, sizeof log, "%.500s.log", dir);
    char *argv[] = { (char *)knoten, "run", "--data", (char *)dir, "--listen", listen, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, knoten, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static inline void stop_node(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A port free now, below Linux's ephemeral range (as tests/integration/peers_lib.bash). */
static inline int free_port(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + rand() % 12000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET,
            .sin_port = htons((uint16_t)port),
            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0)
            return -1;
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

/*
 * CPU seconds (user + system) of a process, or of one of its threads if
 * tid > 0; *sys (if not NULL) receives the system (kernel) part.
 */
static inline double proc_cpu_split(pid_t pid, pid_t tid, double *sys)
{
    char path[96], buf[1024];
    if (tid > 0)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long utime = 0, stime = 0;
    if (!p
        || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime)
            != 2)
        return -1;
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (sys)
        *sys = (double)stime / tick;
    return (double)(utime + stime) / tick;
}

/* CPU seconds (user + system) of a process, or of one of its threads if tid > 0. */
static inline double proc_cpu_s(pid_t pid, pid_t tid)
{
    return proc_cpu_split(pid, tid, NULL);
}

/* A process's memory from /proc/PID/status, in KiB (0 where the kernel gives none). */
typedef struct proc_mem {
    long hwm, rss, anon, file; /* VmHWM, VmRSS, RssAnon, RssFile */
} proc_mem;

static inline int read_proc_mem(pid_t pid, proc_mem *m)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(m, 0, sizeof *m);
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmHWM: %ld", &m->hwm);
        sscanf(line, "VmRSS: %ld", &m->rss);
        sscanf(line, "RssAnon: %ld", &m->anon);
        sscanf(line, "RssFile: %ld", &m->file);
    }
    fclose(f);
    return 0;
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/*
 * Two data directories ROOT/NAME-a and ROOT/NAME-<second> (written to a and b,
 * 300 bytes each): a founds a network, the second takes its network key and
 * is admitted by a, and is told to dial a at 127.0.0.1:*port (a free port,
 * for a's --listen). prog names the benchmark in error messages.
 */
static inline int bench_pair(const char *knoten, const char *root, const char *name,
    const char *second, char a[300], char b[300], int *port, const char *prog)
{
    char out[400], line[256], id[80] = "", addr[64], nk[340];
    snprintf(a, 300, "%.200s/%.40s-a", root, name);
    snprintf(b, 300, "%.200s/%.40s-%.8s", root, name, second);
    snprintf(nk, sizeof nk, "%s/network.key", a);
    snprintf(out, sizeof out, "%.200s/%.40s-init-%.8s.out", root, name, second);
    char *ia[] = { (char *)knoten, "init", "--data", a, NULL };
    char *ib[] = { (char *)knoten, "init", "--data", b, "--network-key-file", nk, NULL };
    if (run(ia, NULL) != 0 || run(ib, out) != 0) {
        fprintf(stderr, "%s: knoten init failed in %s\n", prog, root);
        return -1;
    }
    FILE *f = fopen(out, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "node identity: %64s", id) == 1)
            break;
    if (f)
        fclose(f);
    if (strlen(id) != 64) {
        fprintf(stderr, "%s: no identity in %s\n", prog, out);
        return -1;
    }
    char council[32];
    snprintf(council, sizeof council, "Gemeinde %.8s", second);
    char *ad[] = { (char *)knoten, "admit", id, "--name", council, "--data", a, NULL };
    if (run(ad, NULL) != 0) {
        fprintf(stderr, "%s: knoten admit failed\n", prog);
        return -1;
    }
    if ((*port = free_port()) < 0)
        return -1;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", *port);
    char *pb[] = { (char *)knoten, "peer", "add", addr, "--data", b, NULL };
    return run(pb, NULL) == 0 ? 0 : -1;
}

#endif
