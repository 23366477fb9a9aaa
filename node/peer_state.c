/*
 * Writing and reading DIR/peers.state; the format is in peer_state.h.
 */
#include "peer_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"

enum {
    STATE_LINE_MAX = 1024,
    /* configured, inbound (NODE_MAX_INBOUND) and announced peers */
    STATE_RECORDS_MAX = 2 * KN_PEERS_MAX + KN_ANNOUNCED_PEERS_MAX + 256,
};

static const char *const phase_names[] = {
    [KN_PHASE_IDLE] = "idle",
    [KN_PHASE_CONNECTING] = "connecting",
    [KN_PHASE_HANDSHAKE] = "handshake",
    [KN_PHASE_CONNECTED] = "connected",
    [KN_PHASE_BACKOFF] = "backoff",
};

const char *kn_peer_phase_name(kn_peer_phase p)
{
    if ((unsigned)p < sizeof phase_names / sizeof phase_names[0])
        return phase_names[p];
    return "unknown";
}

void kn_peer_state_free(kn_peer_state *st)
{
    if (!st)
        return;
    free(st->v);
    st->v = NULL;
    st->n = 0;
    free(st->bans);
    st->bans = NULL;
    st->nbans = 0;
}

/* Error texts are ours, but may quote a peer's bye reason: keep them on one field. */
static void put_text(FILE *f, const char *s)
{
    if (!*s) {
        fputc('-', f);
        return;
    }
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

int kn_peer_state_write(const char *datadir, const kn_peer_state *st)
{
    char path[4096], tmp[4096];
    if (snprintf(path, sizeof path, "%s/%s", datadir, KN_PEER_STATE_FILE) >= (int)sizeof path
        || snprintf(tmp, sizeof tmp, "%s/.%s.%ld", datadir, KN_PEER_STATE_FILE, (long)getpid())
            >= (int)sizeof tmp)
        return KN_EINVAL;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return KN_EIO;
    fprintf(f, "knoten-peers-state\t1\t%ld\t%d\t%llu\n", st->pid, st->running ? 1 : 0,
        (unsigned long long)st->updated_ms);
    for (size_t i = 0; i < st->n; i++) {
        const kn_peer_status *p = &st->v[i];
        char id[65] = "-";
        if (p->has_identity)
            kn_hex_encode(id, p->identity, 32);
        fprintf(f, "peer\t%s\t%s\t%s\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t", p->addr,
            p->inbound         ? "in"
                : p->announced ? "announced"
                               : "out",
            kn_peer_phase_name(p->phase), id, (unsigned long long)p->since_ms,
            (unsigned long long)p->handshake_ms, (unsigned long long)p->retry_ms,
            (unsigned long long)p->bytes_in, (unsigned long long)p->bytes_out,
            (unsigned long long)p->error_ms);
        put_text(f, p->last_error);
        fputc('\n', f);
        const kn_peer_sync *y = &p->sync;
        fprintf(f, "sync\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\n",
            (unsigned long long)y->objs_in, (unsigned long long)y->objs_out,
            (unsigned long long)y->recon_ms, (unsigned long long)y->recon_duration_ms,
            (unsigned long long)y->recon_in, (unsigned long long)y->recon_out,
            (unsigned long long)y->recon_found, (unsigned long long)y->recon_bytes_in);
        const kn_peer_blobs *b = &p->blobs;
        if (b->chunks_in || b->chunks_out || b->corrupt)
            fprintf(f, "blobs\t%llu\t%llu\t%llu\t%llu\t%llu\n", (unsigned long long)b->chunks_in,
                (unsigned long long)b->chunks_out, (unsigned long long)b->bytes_in,
                (unsigned long long)b->bytes_out, (unsigned long long)b->corrupt);
    }
    for (size_t i = 0; i < st->nbans && i < KN_PEER_BANS_MAX; i++) {
        const kn_peer_ban *b = &st->bans[i];
        fprintf(f, "ban\t");
        put_text(f, b->key);
        fprintf(f, "\t%s\t%u\t%u\t%llu\t%llu\t", b->is_id ? "id" : "addr", b->score, b->bans,
            (unsigned long long)b->until_ms, (unsigned long long)b->last_ms);
        put_text(f, b->reason);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
        unlink(tmp);
        return KN_EIO;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s || strlen(s) > 20)
        return KN_ECORRUPT;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return KN_ECORRUPT;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 0;
}

static int parse_peer(kn_peer_status *p, char *line)
{
    char *f[13];
    int n = 0;
    char *s = line;
    while (n < 13 && s)
        f[n++] = strsep(&s, "\t");
    if (n != 12 || s)
        return KN_ECORRUPT;
    memset(p, 0, sizeof *p);
    if (strlen(f[1]) > KN_PEER_ADDR_MAX)
        return KN_ECORRUPT;
    strcpy(p->addr, f[1]);
    p->inbound = strcmp(f[2], "in") == 0;
    p->announced = strcmp(f[2], "announced") == 0;
    p->phase = (kn_peer_phase)-1;
    for (size_t i = 0; i < sizeof phase_names / sizeof phase_names[0]; i++)
        if (strcmp(f[3], phase_names[i]) == 0)
            p->phase = (kn_peer_phase)i;
    if ((int)p->phase < 0)
        return KN_ECORRUPT;
    if (strcmp(f[4], "-") != 0) {
        if (kn_hex_decode(p->identity, 32, f[4], strlen(f[4])) < 0)
            return KN_ECORRUPT;
        p->has_identity = true;
    }
    uint64_t *nums[] = { &p->since_ms, &p->handshake_ms, &p->retry_ms, &p->bytes_in, &p->bytes_out,
        &p->error_ms };
    for (int i = 0; i < 6; i++)
        if (parse_u64(f[5 + i], nums[i]) < 0)
            return KN_ECORRUPT;
    if (strcmp(f[11], "-") != 0)
        snprintf(p->last_error, sizeof p->last_error, "%s", f[11]);
    return 0;
}

static int parse_ban(kn_peer_ban *b, char *line)
{
    char *f[9];
    int n = 0;
    char *s = line;
    uint64_t v[4];
    while (n < 9 && s)
        f[n++] = strsep(&s, "\t");
    if (n != 8 || s || strlen(f[1]) > KN_PEER_BAN_KEY_MAX
        || (strcmp(f[2], "id") != 0 && strcmp(f[2], "addr") != 0))
        return KN_ECORRUPT;
    for (int i = 0; i < 4; i++)
        if (parse_u64(f[3 + i], &v[i]) < 0)
            return KN_ECORRUPT;
    memset(b, 0, sizeof *b);
    strcpy(b->key, f[1]);
    b->is_id = strcmp(f[2], "id") == 0;
    b->score = v[0] > UINT32_MAX ? UINT32_MAX : (unsigned)v[0];
    b->bans = v[1] > UINT32_MAX ? UINT32_MAX : (unsigned)v[1];
    b->until_ms = v[2];
    b->last_ms = v[3];
    if (strcmp(f[7], "-") != 0)
        snprintf(b->reason, sizeof b->reason, "%s", f[7]);
    return 0;
}

static int parse_sync(kn_peer_sync *y, char *line)
{
    char *f[10];
    int n = 0;
    char *s = line;
    while (n < 10 && s)
        f[n++] = strsep(&s, "\t");
    if ((n != 7 && n != 9) || s)
        return KN_ECORRUPT; /* 7: written before recon_found and recon_bytes_in */
    memset(y, 0, sizeof *y);
    uint64_t *nums[] = { &y->objs_in, &y->objs_out, &y->recon_ms, &y->recon_duration_ms,
        &y->recon_in, &y->recon_out, &y->recon_found, &y->recon_bytes_in };
    for (int i = 0; i < n - 1; i++)
        if (parse_u64(f[1 + i], nums[i]) < 0)
            return KN_ECORRUPT;
    return 0;
}

static int parse_blobs(kn_peer_blobs *b, char *line)
{
    char *f[7];
    int n = 0;
    char *s = line;
    while (n < 7 && s)
        f[n++] = strsep(&s, "\t");
    if (n != 6 || s)
        return KN_ECORRUPT;
    uint64_t *nums[] = { &b->chunks_in, &b->chunks_out, &b->bytes_in, &b->bytes_out, &b->corrupt };
    for (int i = 0; i < 5; i++)
        if (parse_u64(f[1 + i], nums[i]) < 0)
            return KN_ECORRUPT;
    return 0;
}

int kn_peer_state_read(const char *datadir, kn_peer_state *st)
{
    char path[4096], line[STATE_LINE_MAX];
    int rc = 0;
    memset(st, 0, sizeof *st);
    if (snprintf(path, sizeof path, "%s/%s", datadir, KN_PEER_STATE_FILE) >= (int)sizeof path)
        return KN_EINVAL;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? KN_ENOTFOUND : KN_EIO;
    bool header = false;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            rc = KN_ECORRUPT; /* overlong or cut short */
            goto out;
        }
        line[len - 1] = 0;
        if (!header) {
            char *s = line, *f0 = strsep(&s, "\t"), *ver = strsep(&s, "\t");
            char *pid = strsep(&s, "\t"), *run = strsep(&s, "\t"), *upd = strsep(&s, "\t");
            uint64_t v;
            if (!upd || s || strcmp(f0, "knoten-peers-state") != 0 || strcmp(ver, "1") != 0
                || parse_u64(pid, &v) < 0 || parse_u64(upd, &st->updated_ms) < 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            st->pid = (long)v;
            st->running = strcmp(run, "1") == 0;
            header = true;
            continue;
        }
        if (strncmp(line, "sync\t", 5) == 0) {
            if (st->n == 0 || (rc = parse_sync(&st->v[st->n - 1].sync, line)) < 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            continue;
        }
        if (strncmp(line, "blobs\t", 6) == 0) {
            if (st->n == 0 || parse_blobs(&st->v[st->n - 1].blobs, line) < 0) {
                rc = KN_ECORRUPT;
                goto out;
            }
            continue;
        }
        if (strncmp(line, "ban\t", 4) == 0) {
            if (st->nbans == KN_PEER_BANS_MAX) {
                rc = KN_ECORRUPT;
                goto out;
            }
            kn_peer_ban *b = realloc(st->bans, (st->nbans + 1) * sizeof *b);
            if (!b) {
                rc = KN_ENOMEM;
                goto out;
            }
            st->bans = b;
            if ((rc = parse_ban(&b[st->nbans], line)) < 0)
                goto out;
            st->nbans++;
            continue;
        }
        if (strncmp(line, "peer\t", 5) != 0)
            continue; /* a later version's record kind */
        if (st->n == STATE_RECORDS_MAX) {
            rc = KN_ECORRUPT;
            goto out;
        }
        kn_peer_status *v = realloc(st->v, (st->n + 1) * sizeof *v);
        if (!v) {
            rc = KN_ENOMEM;
            goto out;
        }
        st->v = v;
        if ((rc = parse_peer(&v[st->n], line)) < 0)
            goto out;
        st->n++;
    }
    if (ferror(f))
        rc = KN_EIO;
    else if (!header)
        rc = KN_ECORRUPT;
out:
    fclose(f);
    if (rc < 0)
        kn_peer_state_free(st);
    return rc;
}
