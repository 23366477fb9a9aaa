/*
 * The node's log lines; see log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int journal_prio[] = { 3, 4, 6, 7 };

const char *kn_log_level_name(kn_log_level l)
{
    return (unsigned)l <= KN_LOG_DEBUG ? level_names[l] : "?";
}

int kn_log_level_parse(const char *s, kn_log_level *out)
{
    for (int i = 0; s && i <= KN_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (kn_log_level)i;
            return 0;
        }
    }
    return KN_EINVAL;
}

bool kn_log_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void kn_log_init(kn_log *l, const kn_env *env)
{
    memset(l, 0, sizeof *l);
    l->level = KN_LOG_INFO;
    l->fd = 2;
    l->env = env;
    l->journal = kn_log_stderr_is_journal();
}

bool kn_log_enabled(const kn_log *l, kn_log_level level)
{
    return level <= l->level;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a failing log */
        p += w;
        n -= (size_t)w;
    }
}

void kn_logv(const kn_log *l, kn_log_level level, const char *fmt, va_list ap)
{
    char line[KN_LOG_LINE_MAX];
    size_t n = 0;
    int k;
    if (!kn_log_enabled(l, level))
        return;
    if (l->journal) {
        k = snprintf(line, sizeof line, "<%d>%s: ", journal_prio[level], level_names[level]);
    } else {
        char when[64] = "";
        if (l->timestamps && l->env) {
            uint64_t ms = kn_env_now(l->env);
            time_t t = (time_t)(ms / 1000);
            struct tm tm;
            if (gmtime_r(&t, &tm))
                snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ ",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (unsigned)(ms % 1000));
        }
        k = snprintf(line, sizeof line, "%sknoten: %s: ", when, level_names[level]);
    }
    n = k > 0 ? (size_t)k : 0;
    if (l->name[0] && n < sizeof line) {
        k = snprintf(line + n, sizeof line - n, "%s: ", l->name);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n < sizeof line) {
        size_t start = n;
        k = vsnprintf(line + n, sizeof line - n, fmt, ap);
        n += k > 0 ? (size_t)k : 0;
        if (n > sizeof line - 1)
            n = sizeof line - 1; /* cut: the line is still one line */
        for (size_t i = start; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c < 0x20 || c == 0x7f)
                line[i] = '?';
        }
    }
    if (n > sizeof line - 1)
        n = sizeof line - 1;
    line[n++] = '\n';
    write_all(l->fd, line, n);
}

void kn_logf(const kn_log *l, kn_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kn_logv(l, level, fmt, ap);
    va_end(ap);
}
