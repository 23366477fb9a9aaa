/*
 * `knoten demo`: three councils on 127.0.0.1 that found a network, invite
 * each other, get staff logins and a little sample content, and then run
 * until Ctrl-C, so that a newcomer can watch replication in three browser
 * tabs. It drives this same program as a person would on the command line
 * (init, run, invite, join, user add, thread, post, link), one child process
 * per step, and prints the web addresses and logins at the end.
 *
 * Everything lives below one scratch directory (--dir, default a new
 * /tmp/knoten-demo-XXXXXX); each node logs to NAME.log there. Ports: peers on
 * --port, --port+1, --port+2 (default 9471), web on --web-port .. +2 (default
 * 8481). Ctrl-C stops the three nodes (SIGTERM) and waits for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { DEMO_NODES = 3, OUT_MAX = 16384 };

static const struct demo_council {
    const char *dir, *name, *ags, *login, *person, *role, *expertise;
} councils[DEMO_NODES] = {
    { "a", "Stadt Musterstadt", "08115001", "erika", "Erika Muster", "Personalamt",
        "personal,tarifrecht" },
    { "b", "Gemeinde Bergdorf", "08115002", "jonas", "Jonas Beispiel", "Ordnungsamt",
        "gewerbe,ordnungsrecht" },
    { "c", "Landkreis Talheim", "08115003", "aylin", "Aylin Demir", "Kämmerei",
        "gewerbesteuer,haushalt" },
};
#define DEMO_PASSWORD "knoten-demo"

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Runs this program with args (NULL-terminated), feeding `input` (may be NULL)
 * on stdin and capturing stdout into out (cap bytes, may be NULL); stderr goes
 * to log (may be NULL: inherited). Returns the exit code, or -1.
 */
static int run_self(char *const args[], const char *input, char *out, size_t cap, const char *log)
{
    int in[2] = { -1, -1 }, op[2] = { -1, -1 };
    if ((input && pipe(in) < 0) || (out && pipe(op) < 0))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (input) {
            dup2(in[0], 0);
            close(in[1]);
        } else {
            int dn = open("/dev/null", O_RDONLY);
            dup2(dn, 0);
        }
        if (out) {
            dup2(op[1], 1);
            close(op[0]);
        } else { /* the demo prints its own summary; the steps' output goes to the log */
            int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0)
                dup2(fd, 1);
        }
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0)
                dup2(fd, 2);
        }
        execv("/proc/self/exe", args);
        _exit(127);
    }
    if (input) {
        close(in[0]);
        ssize_t w = write(in[1], input, strlen(input));
        (void)w;
        close(in[1]);
    }
    size_t len = 0;
    if (out) {
        close(op[1]);
        ssize_t n;
        while ((n = read(op[0], out + len, cap - 1 - len)) > 0 && len + (size_t)n < cap - 1)
            len += (size_t)n;
        if (n > 0)
            len += (size_t)n;
        out[len] = 0;
        close(op[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Starts `knoten run` for council i in the background; its pid. */
static pid_t start_node(const char *data, const char *log, int port, int web)
{
    char listen[32], http[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(http, sizeof http, "127.0.0.1:%d", web);
    char *args[] = { "knoten", "run", "--data", (char *)data, "--listen", listen, "--announce",
        listen, "--http", http, NULL };
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        int dn = open("/dev/null", O_RDONLY);
        dup2(dn, 0);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Waits until `knoten show ID` succeeds at data (the object arrived), at most secs. */
static bool wait_for_object(const char *data, const char *id, int secs)
{
    char *args[] = { "knoten", "show", (char *)id, "--data", (char *)data, NULL };
    for (int i = 0; i < secs * 5 && !stop_requested; i++) {
        if (run_self(args, NULL, NULL, 0, "/dev/null") == 0)
            return true;
        sleep_ms(200);
    }
    return false;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
}

/* The line starting with knoten1- in out, copied to code. */
static bool invite_code(const char *out, char *code, size_t cap)
{
    const char *p = strstr(out, "knoten1-");
    if (!p)
        return false;
    size_t n = strcspn(p, "\n ");
    if (n >= cap)
        return false;
    memcpy(code, p, n);
    code[n] = 0;
    return true;
}

int cmd_demo(kn_cli *cli, int argc, char **argv)
{
    static const struct option opts[]
        = { { "dir", required_argument, 0, 'd' }, { "port", required_argument, 0, 'p' },
              { "web-port", required_argument, 0, 'w' }, CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
    const char *dir_arg = NULL;
    long port = 9471, web = 8481;
    int opt, code = -1;
    while ((opt = cli_getopt(cli, argc, argv, "h", opts, "demo", &code)) != -1) {
        if (opt == CLI_STOP)
            return code;
        char *end;
        if (opt == 'd') {
            dir_arg = optarg;
        } else if (opt == 'p' || opt == 'w') {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1024 || v > 65530)
                return cli_usage_error(
                    cli, "--%s takes a port from 1024 to 65530", opt == 'p' ? "port" : "web-port");
            *(opt == 'p' ? &port : &web) = v;
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
    char dir[KN_PATH_MAX];
    if (dir_arg) {
        snprintf(dir, sizeof dir, "%s", dir_arg);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return cli_fail("cannot create %s: %s", dir, strerror(errno));
        char probe[KN_PATH_MAX + 8];
        snprintf(probe, sizeof probe, "%s/a", dir);
        if (access(probe, F_OK) == 0)
            return cli_fail("%s holds a demo already; give a new --dir (or remove it)", dir);
    } else {
        snprintf(dir, sizeof dir, "/tmp/knoten-demo-XXXXXX");
        if (!mkdtemp(dir))
            return cli_fail("cannot create a scratch directory in /tmp: %s", strerror(errno));
    }
    char data[DEMO_NODES][KN_PATH_MAX + 8], logs[DEMO_NODES][KN_PATH_MAX + 8];
    char listen[DEMO_NODES][32];
    pid_t pids[DEMO_NODES] = { 0 };
    for (int i = 0; i < DEMO_NODES; i++) {
        snprintf(data[i], sizeof data[i], "%s/%s", dir, councils[i].dir);
        snprintf(logs[i], sizeof logs[i], "%s/%s.log", dir, councils[i].dir);
        snprintf(listen[i], sizeof listen[i], "127.0.0.1:%ld", port + i);
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    char *out = malloc(OUT_MAX), code_buf[4096], thread_id[80] = "";
    if (!out)
        return cli_fail("out of memory");
    fprintf(stderr, "knoten demo: three councils in %s (logs: a.log, b.log, c.log)\n", dir);

    /* 1. Musterstadt founds the network and runs. */
    char *init[] = { "knoten", "init", "--data", data[0], "--found", "Kommunen-Demo Südwest",
        "--description", "Ein Beispielnetz für knoten", NULL };
    if (run_self(init, NULL, NULL, 0, logs[0]) != 0) {
        code = cli_fail("init failed; see %s", logs[0]);
        goto out;
    }
    pids[0] = start_node(data[0], logs[0], (int)port, (int)web);
    sleep_ms(800);

    /* 2. Musterstadt invites Bergdorf; 3. Bergdorf invites Talheim. */
    for (int i = 1; i < DEMO_NODES && !stop_requested; i++) {
        int inviter = i - 1;
        fprintf(stderr, "knoten demo: %s invites %s\n", councils[inviter].name, councils[i].name);
        char *inv[] = { "knoten", "invite", "--data", data[inviter], "--address", listen[inviter],
            "--note", (char *)councils[i].name, NULL };
        if (run_self(inv, NULL, out, OUT_MAX, logs[inviter]) != 0
            || !invite_code(out, code_buf, sizeof code_buf)) {
            code = cli_fail("the invite failed; see %s", logs[inviter]);
            goto out;
        }
        char *join[] = { "knoten", "join", code_buf, "--data", data[i], "--name",
            (char *)councils[i].name, "--ags", (char *)councils[i].ags, NULL };
        if (run_self(join, NULL, NULL, 0, logs[i]) != 0) {
            code = cli_fail("%s could not join; see %s", councils[i].name, logs[i]);
            goto out;
        }
        pids[i] = start_node(data[i], logs[i], (int)(port + i), (int)(web + i));
        sleep_ms(500);
    }

    /* 4. A member of staff with a web login at each council. */
    for (int i = 0; i < DEMO_NODES && !stop_requested; i++) {
        char *add[] = { "knoten", "user", "add", "--data", data[i], "--name",
            (char *)councils[i].person, "--role", (char *)councils[i].role, "--expertise",
            (char *)councils[i].expertise, "--lang", "de,en", "--login", (char *)councils[i].login,
            "--admin", "--password-stdin", NULL };
        if (run_self(add, DEMO_PASSWORD "\n", out, OUT_MAX, logs[i]) != 0) {
            code = cli_fail("user add failed at %s; see %s", councils[i].name, logs[i]);
            goto out;
        }
    }

    /* 5. A little to look at: a question, links, replies from the other councils. */
    char *thread[] = { "knoten", "thread", "--data", data[0], "--space", "Vergaberecht", "--title",
        "Eignungsnachweise bei kleinen Vergaben?", "--body",
        "Wie handhaben Sie die **Eignungsnachweise** bei Aufträgen unter 10.000 Euro?\n\n"
        "Wir überlegen, auf die Eigenerklärung umzustellen.",
        NULL };
    if (run_self(thread, NULL, out, OUT_MAX, logs[0]) == 0) {
        snprintf(thread_id, sizeof thread_id, "%.64s", out);
        trim(thread_id);
    }
    char *thread2[] = { "knoten", "thread", "--data", data[2], "--space", "Gewerbesteuer",
        "--title", "Stundung der Gewerbesteuer: Musterbescheid gesucht", "--body",
        "Hat jemand einen Musterbescheid für die Stundung, den wir anpassen dürfen?", NULL };
    char *link[] = { "knoten", "link", "--data", data[1], "--space", "Ordnungsrecht", "--url",
        "https://www.gesetze-im-internet.de/gewo/", "--title", "Gewerbeordnung (GewO)",
        "--description", "Der Gesetzestext, stets aktuell.", NULL };
    if (run_self(thread2, NULL, NULL, 0, logs[2]) != 0
        || run_self(link, NULL, NULL, 0, logs[1]) != 0)
        fprintf(stderr, "knoten demo: note: some sample content could not be created\n");
    if (thread_id[0] && wait_for_object(data[1], thread_id, 20)) {
        char *post[] = { "knoten", "post", thread_id, "--data", data[1], "--body",
            "Wir nehmen seit 2024 die Eigenerklärung und fordern Nachweise nur beim "
            "Bestbietenden an. Das spart allen Seiten Zeit.",
            NULL };
        if (run_self(post, NULL, NULL, 0, logs[1]) != 0)
            fprintf(stderr, "knoten demo: note: the sample reply could not be created\n");
    }

    /* A document, a poll and an event, so every page has something to show. */
    char sample[KN_PATH_MAX + 64], start[32], end[32];
    snprintf(sample, sizeof sample, "%s/Checkliste-Vergabe.md", dir);
    FILE *sf = fopen(sample, "w");
    if (sf) {
        fputs("# Checkliste: Vergabe unter 10.000 Euro\n\n"
              "1. Bedarf und Schätzwert dokumentieren\n"
              "2. Drei Angebote einholen (Eigenerklärung zur Eignung genügt)\n"
              "3. Wirtschaftlichstes Angebot auswählen, Vergabevermerk schreiben\n"
              "4. Nachweise nur beim Bestbietenden anfordern\n",
            sf);
        fclose(sf);
    }
    time_t when = time(NULL) + 14 * 86400;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(start, sizeof start, "%Y-%m-%d 10:00", &tm);
    strftime(end, sizeof end, "%Y-%m-%d 12:00", &tm);
    char *doc[] = { "knoten", "doc", "publish", sample, "--data", data[0], "--as",
        (char *)councils[0].person, "--title", "Checkliste Vergabe unter 10.000 Euro", "--area",
        "Vergaberecht", "--kind", "checklist", "--description",
        "Unsere Checkliste für kleine Vergaben; gern übernehmen und anpassen.", "--tag", "vergabe",
        NULL };
    char *poll[] = { "knoten", "poll", "--data", data[2], "--area", "Umfragen", "--question",
        "Wann führen Sie die E-Akte ein?", "--option", "Schon eingeführt", "--option", "2026",
        "--option", "Später", "--count", "council", "--show-early", "--as",
        (char *)councils[2].person, NULL };
    char *event[] = { "knoten", "event", "--data", data[1], "--area", "Termine", "--title",
        "Arbeitstreffen Ordnungsrecht", "--start", start, "--end", end, "--tz", "Europe/Berlin",
        "--place", "Rathaus Bergdorf, Sitzungssaal", "--as", (char *)councils[1].person, NULL };
    if (!sf || run_self(doc, NULL, NULL, 0, logs[0]) != 0
        || run_self(poll, NULL, NULL, 0, logs[2]) != 0
        || run_self(event, NULL, NULL, 0, logs[1]) != 0)
        fprintf(stderr, "knoten demo: note: some sample content could not be created\n");

    printf("\nknoten demo: three councils are running and replicating.\n\n");
    for (int i = 0; i < DEMO_NODES; i++)
        printf("  %-20s http://127.0.0.1:%ld/   login %-6s password %s\n", councils[i].name,
            web + i, councils[i].login, DEMO_PASSWORD);
    printf("\nWrite something in one browser tab and watch it appear in the others within a "
           "second.\nData and logs: %s\nStop with Ctrl-C.\n",
        dir);
    fflush(stdout);
    while (!stop_requested) {
        for (int i = 0; i < DEMO_NODES; i++) {
            int st;
            if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                fprintf(stderr, "knoten demo: the node of %s stopped; see %s\n", councils[i].name,
                    logs[i]);
                pids[i] = 0;
                stop_requested = 1;
            }
        }
        sleep_ms(200);
    }
    code = CLI_OK;
out:
    for (int i = 0; i < DEMO_NODES; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int i = 0; i < DEMO_NODES; i++)
        if (pids[i] > 0)
            while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                ;
    fprintf(stderr, "knoten demo: stopped; the data stays in %s\n", dir);
    free(out);
    return code;
}
