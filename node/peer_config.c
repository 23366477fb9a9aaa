/*
 * The configured peer list: parsing addresses, the stored encoding, and the
 * add/remove edits of `knoten peer`. See peer_config.h.
 */
#include "peer_config.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "object.h"

void kn_peer_list_free(kn_peer_list *l)
{
    if (!l)
        return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool host_char_ok(char c)
{
    /* DNS names, IPv4 and IPv6 literals (with a zone id after '%'). */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
        || c == '-' || c == ':' || c == '%' || c == '_';
}

int kn_hostport_parse(const char *s, char host[static KN_HOST_MAX + 1], uint16_t *port)
{
    if (!s)
        return KN_EINVAL;
    const char *h, *hend, *p;
    if (s[0] == '[') {
        h = s + 1;
        if (!(hend = strchr(h, ']')) || hend[1] != ':')
            return KN_EINVAL;
        p = hend + 2;
    } else {
        h = s;
        if (!(hend = strrchr(s, ':')))
            return KN_EINVAL;
        p = hend + 1;
        if (memchr(h, ':', (size_t)(hend - h)))
            return KN_EINVAL; /* an unbracketed IPv6 literal: the port is ambiguous */
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl > KN_HOST_MAX)
        return KN_EINVAL;
    for (size_t i = 0; i < hl; i++)
        if (!host_char_ok(h[i]))
            return KN_EINVAL;
    if (s[0] == '[' && !memchr(h, ':', hl))
        return KN_EINVAL; /* brackets are for IPv6 only */
    unsigned long v = 0;
    if (!*p || strlen(p) > 5)
        return KN_EINVAL;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return KN_EINVAL;
        v = v * 10 + (unsigned long)(*q - '0');
    }
    if (v < 1 || v > 65535 || (p[0] == '0'))
        return KN_EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (uint16_t)v;
    return 0;
}

int kn_peer_list_decode(kn_peer_list *l, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n, arity, slen;
    const char *s;
    const uint8_t *b;
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    int rc;

    memset(l, 0, sizeof *l);
    kn_mp_in_init(&in, buf, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n > KN_PEERS_MAX)
        return KN_ELIMIT;
    if (n && !(l->v = calloc(n, sizeof *l->v)))
        return KN_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        kn_peer_entry *e = &l->v[i];
        if ((rc = kn_mp_read_array(&in, &arity)) < 0)
            goto out;
        if (arity != 2) {
            rc = KN_EARITY;
            goto out;
        }
        if ((rc = kn_mp_read_str(&in, &s, &slen)) < 0)
            goto out;
        if (slen > KN_PEER_ADDR_MAX) {
            rc = KN_ETOOBIG;
            goto out;
        }
        memcpy(e->addr, s, slen);
        e->addr[slen] = 0;
        if (strlen(e->addr) != slen || kn_hostport_parse(e->addr, host, &port) < 0) {
            rc = KN_ECORRUPT;
            goto out;
        }
        if ((rc = kn_mp_read_bin(&in, &b, &slen)) < 0)
            goto out;
        if (slen != 0 && slen != 32) {
            rc = KN_EKEYLEN;
            goto out;
        }
        e->has_key = slen == 32;
        if (e->has_key)
            memcpy(e->key, b, 32);
        l->n = i + 1;
    }
    rc = kn_mp_in_left(&in) ? KN_ETRAILING : 0;
out:
    if (rc < 0)
        kn_peer_list_free(l);
    return rc;
}

int kn_peer_list_encode(const kn_peer_list *l, kn_mp_out *o)
{
    kn_mp_write_array(o, (uint32_t)l->n);
    for (size_t i = 0; i < l->n; i++) {
        kn_mp_write_array(o, 2);
        kn_mp_write_cstr(o, l->v[i].addr);
        kn_mp_write_bin(o, l->v[i].key, l->v[i].has_key ? 32 : 0);
    }
    return kn_mp_out_error(o);
}

int kn_peer_list_load(kn_store *s, kn_peer_list *l)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(l, 0, sizeof *l);
    int rc = kn_store_setting_get(s, KN_PEERS_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = kn_peer_list_decode(l, buf, len);
    free(buf);
    return rc;
}

int kn_peer_list_save(kn_store *s, const kn_peer_list *l)
{
    kn_mp_out o;
    kn_mp_out_init(&o, 1 << 20);
    int rc = kn_peer_list_encode(l, &o);
    if (rc == 0)
        rc = kn_store_setting_put(s, KN_PEERS_SETTING, o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}

int kn_peer_list_find(const kn_peer_list *l, const char *addr)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].addr, addr) == 0)
            return (int)i;
    return -1;
}

int kn_peer_list_add(kn_peer_list *l, const char *addr, const uint8_t *key)
{
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    if (kn_hostport_parse(addr, host, &port) < 0 || strlen(addr) > KN_PEER_ADDR_MAX)
        return KN_EINVAL;
    int i = kn_peer_list_find(l, addr);
    if (i < 0) {
        if (l->n >= KN_PEERS_MAX)
            return KN_ELIMIT;
        kn_peer_entry *v = realloc(l->v, (l->n + 1) * sizeof *v);
        if (!v)
            return KN_ENOMEM;
        l->v = v;
        i = (int)l->n++;
        memset(&v[i], 0, sizeof v[i]);
        strcpy(v[i].addr, addr);
    }
    l->v[i].has_key = key != NULL;
    if (key)
        memcpy(l->v[i].key, key, 32);
    else
        memset(l->v[i].key, 0, 32);
    return 0;
}

int kn_peer_list_remove(kn_peer_list *l, const char *addr)
{
    int i = kn_peer_list_find(l, addr);
    if (i < 0)
        return KN_ENOTFOUND;
    memmove(&l->v[i], &l->v[i + 1], (l->n - (size_t)i - 1) * sizeof l->v[0]);
    l->n--;
    return 0;
}

/* ---- announced addresses and the target number of connections ---- */

int kn_announce_add(kn_announce *a, const char *addr)
{
    char host[KN_HOST_MAX + 1];
    uint16_t port;
    size_t len = strlen(addr);
    if (len > KN_ANNOUNCE_ADDR_MAX || kn_hostport_parse(addr, host, &port) < 0)
        return KN_EINVAL;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->addr[i], addr) == 0)
            return 0;
    if (a->n == KN_ANNOUNCE_MAX)
        return KN_ELIMIT;
    memcpy(a->addr[a->n], addr, len + 1);
    a->n++;
    return 0;
}

bool kn_announce_equal(const kn_announce *a, const kn_announce *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->addr[i], b->addr[i]) != 0)
            return false;
    return true;
}

/* Copies one msgpack string into an address buffer; KN_ECORRUPT if it cannot be one. */
static int copy_addr(char out[static KN_ANNOUNCE_ADDR_MAX + 1], const char *s, uint32_t len)
{
    if (len == 0 || len > KN_ANNOUNCE_ADDR_MAX || memchr(s, 0, len))
        return KN_ECORRUPT;
    memcpy(out, s, len);
    out[len] = 0;
    return 0;
}

int kn_announce_decode(kn_announce *a, const uint8_t *buf, size_t len)
{
    kn_mp_in in;
    uint32_t n, sl;
    const char *s;
    char addr[KN_ANNOUNCE_ADDR_MAX + 1];
    int rc;
    memset(a, 0, sizeof *a);
    kn_mp_in_init(&in, buf, len);
    if ((rc = kn_mp_read_array(&in, &n)) < 0)
        return rc;
    if (n > KN_ANNOUNCE_MAX)
        return KN_ELIMIT;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = kn_mp_read_str(&in, &s, &sl)) < 0 || (rc = copy_addr(addr, s, sl)) < 0
            || (rc = kn_announce_add(a, addr)) < 0)
            goto out;
    }
    /* A repeated address would make the encoding differ from what was stored. */
    rc = kn_mp_in_left(&in) ? KN_ETRAILING : a->n != n ? KN_ECORRUPT : 0;
out:
    if (rc < 0)
        memset(a, 0, sizeof *a);
    return rc == KN_EINVAL ? KN_ECORRUPT : rc;
}

int kn_announce_encode(const kn_announce *a, kn_mp_out *o)
{
    kn_mp_write_array(o, (uint32_t)a->n);
    for (size_t i = 0; i < a->n; i++)
        kn_mp_write_cstr(o, a->addr[i]);
    return kn_mp_out_error(o);
}

int kn_announce_load(kn_store *s, kn_announce *a)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(a, 0, sizeof *a);
    int rc = kn_store_setting_get(s, KN_ANNOUNCE_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = kn_announce_decode(a, buf, len);
    free(buf);
    return rc;
}

int kn_announce_save(kn_store *s, const kn_announce *a)
{
    kn_mp_out o;
    kn_mp_out_init(&o, 8192);
    int rc = kn_announce_encode(a, &o);
    if (rc == 0)
        rc = kn_store_setting_put(s, KN_ANNOUNCE_SETTING, o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}

int kn_announce_from_object(kn_announce *a, const kn_object *o)
{
    kn_mp_in v;
    uint32_t n, sl;
    const char *s;
    char addr[KN_ANNOUNCE_ADDR_MAX + 1];
    int rc;
    memset(a, 0, sizeof *a);
    if (o->type != KN_T_ADDR)
        return KN_EINVAL;
    if ((rc = kn_object_field(o, "addrs", &v)) < 0 || (rc = kn_mp_read_array(&v, &n)) < 0)
        return rc;
    if (n > KN_ANNOUNCE_MAX)
        return KN_ELIMIT;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = kn_mp_read_str(&v, &s, &sl)) < 0)
            return rc;
        if (copy_addr(addr, s, sl) == 0 && kn_announce_add(a, addr) < 0)
            continue; /* not HOST:PORT: skipped */
    }
    return 0;
}

int kn_connections_load(kn_store *s, unsigned *n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t v;
    kn_mp_in in;
    *n = KN_CONNECTIONS_DEFAULT;
    int rc = kn_store_setting_get(s, KN_CONNECTIONS_SETTING, &buf, &len);
    if (rc == KN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    kn_mp_in_init(&in, buf, len);
    rc = kn_mp_read_uint(&in, &v);
    if (rc == 0 && (kn_mp_in_left(&in) || v > KN_CONNECTIONS_MAX))
        rc = KN_ECORRUPT;
    free(buf);
    if (rc == 0)
        *n = (unsigned)v;
    return rc;
}

int kn_connections_save(kn_store *s, unsigned n)
{
    kn_mp_out o;
    if (n > KN_CONNECTIONS_MAX)
        return KN_EINVAL;
    kn_mp_out_init(&o, 16);
    kn_mp_write_uint(&o, n);
    int rc = kn_mp_out_error(&o);
    if (rc == 0)
        rc = kn_store_setting_put(s, KN_CONNECTIONS_SETTING, o.buf, o.len);
    kn_mp_out_free(&o);
    return rc;
}
