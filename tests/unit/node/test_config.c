/*
 * The configuration file parser (node/config.c): defaults without a file,
 * every key of docs/config.md, one council or several, and every way a file
 * is refused, each with its line number and what is allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "test_support.h"

static int parse(kn_config *cfg, const char *text, char *err)
{
    return kn_config_parse(cfg, text, strlen(text), "t.conf", err, KN_CONFIG_ERR_MAX);
}

/* Parses text, which must fail, and checks that the message holds every fragment. */
static void expect_error(const char *text, const char *loc, const char *fragment)
{
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    int rc = parse(&cfg, text, err);
    if (rc != KN_ECONFIG)
        fail_msg("expected KN_ECONFIG for:\n%s\ngot %s, message \"%s\"", text, kn_errname(rc), err);
    if (strncmp(err, loc, strlen(loc)) != 0)
        fail_msg("expected the message to start with \"%s\", got \"%s\"", loc, err);
    if (!strstr(err, fragment))
        fail_msg("expected \"%s\" in the message \"%s\"", fragment, err);
    assert_null(cfg.councils);
    assert_int_equal(cfg.ncouncils, 0);
}

static void test_defaults_without_a_file(void **state)
{
    (void)state;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    assert_rc(0, parse(&cfg, "", err));
    assert_int_equal(cfg.ncouncils, 1);
    assert_false(cfg.multi);
    assert_string_equal(cfg.councils[0].name, "");
    assert_string_equal(cfg.councils[0].data, "");
    assert_string_equal(cfg.councils[0].listen, "0.0.0.0:8471");
    assert_false(cfg.councils[0].announce_set);
    assert_int_equal(cfg.councils[0].connections, -1);
    assert_int_equal(cfg.councils[0].peers.n, 0);
    assert_string_equal(cfg.councils[0].web_path, "/");
    assert_int_equal(cfg.log_level, KN_LOG_INFO);
    assert_false(cfg.log_timestamps);
    assert_true(cfg.http_enabled);
    assert_string_equal(cfg.http_listen, "127.0.0.1:8470");
    assert_int_equal(cfg.max_inbound, 256);
    assert_int_equal(cfg.max_handshakes, 64);
    assert_int_equal(cfg.max_pending, 100000);
    assert_int_equal(cfg.idle_timeout, 45);
    assert_int_equal(cfg.ping_timeout, 15);
    assert_int_equal(cfg.store_max, 0);
    assert_int_equal(cfg.max_file, 0);
    assert_false(cfg.files_quota_set);
    kn_config_free(&cfg);

    /* kn_config_defaults gives the same. */
    assert_rc(0, kn_config_defaults(&cfg));
    assert_int_equal(cfg.ncouncils, 1);
    assert_string_equal(cfg.councils[0].web_path, "/");
    assert_string_equal(cfg.councils[0].listen, "0.0.0.0:8471");
    kn_config_free(&cfg);
    kn_config_free(NULL);
}

static const char full[] = "\xEF\xBB\xBF; the whole file, every key\r\n"
                           "# another comment\n"
                           "\n"
                           "[node]\n"
                           "  data = /srv/knoten/musterstadt   ; indented, with a comment\n"
                           "\tlisten = [::]:9471\n"
                           "announce = knoten.musterstadt.de:9471\n"
                           "announce = 192.0.2.7:9471\n"
                           "connections = 12\n"
                           "peer = knoten.nachbarort.de:8471\n"
                           "peer = 192.0.2.9:8471 "
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                           "web_path = /musterstadt\n"
                           "[log]\n"
                           "level = debug\n"
                           "timestamps = yes\n"
                           "[http]\n"
                           "enabled = on\n"
                           "listen = 127.0.0.1:9470\n"
                           "[limits]\n"
                           "max_inbound = 32\n"
                           "max_handshakes = 8\n"
                           "max_pending = 5000\n"
                           "file_upload_rate = 2MiB\n"
                           "ping_timeout = 7\n"
                           "[quota]\n"
                           "store = 20 GiB\n"
                           "max_file = 4GiB\n"
                           "files_per_council = 0\n";

static void test_every_key(void **state)
{
    (void)state;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    int rc = parse(&cfg, full, err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.ncouncils, 1);
    assert_false(cfg.multi);
    kn_council_config *c = &cfg.councils[0];
    assert_int_equal(c->line, 4);
    assert_string_equal(c->data, "/srv/knoten/musterstadt");
    assert_string_equal(c->listen, "[::]:9471");
    assert_true(c->announce_set);
    assert_int_equal(c->announce.n, 2);
    assert_string_equal(c->announce.addr[0], "knoten.musterstadt.de:9471");
    assert_string_equal(c->announce.addr[1], "192.0.2.7:9471");
    assert_int_equal(c->connections, 12);
    assert_int_equal(c->peers.n, 2);
    assert_string_equal(c->peers.v[0].addr, "knoten.nachbarort.de:8471");
    assert_false(c->peers.v[0].has_key);
    assert_string_equal(c->peers.v[1].addr, "192.0.2.9:8471");
    assert_true(c->peers.v[1].has_key);
    assert_int_equal(c->peers.v[1].key[0], 0x00);
    assert_int_equal(c->peers.v[1].key[31], 0xff);
    assert_string_equal(c->web_path, "/musterstadt");
    assert_int_equal(cfg.log_level, KN_LOG_DEBUG);
    assert_true(cfg.log_timestamps);
    assert_true(cfg.http_enabled);
    assert_string_equal(cfg.http_listen, "127.0.0.1:9470");
    assert_int_equal(cfg.max_inbound, 32);
    assert_int_equal(cfg.max_handshakes, 8);
    assert_int_equal(cfg.max_pending, 5000);
    assert_int_equal(cfg.file_upload_rate, 2ull << 20);
    assert_int_equal(cfg.ping_timeout, 7);
    assert_int_equal(cfg.store_max, 20ull << 30);
    assert_int_equal(cfg.max_file, 4ull << 30);
    assert_true(cfg.files_quota_set);
    assert_int_equal(cfg.files_quota, 0);
    kn_config_free(&cfg);
}

static void test_values(void **state)
{
    (void)state;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    static const struct {
        const char *text;
        uint64_t store;
    } sizes[] = { { "[quota]\nstore = 0\n", 0 }, { "[quota]\nstore = 16777216\n", 16 << 20 },
        { "[quota]\nstore = 512MiB\n", 512ull << 20 }, { "[quota]\nstore = 512m\n", 512ull << 20 },
        { "[quota]\nstore = 2G\n", 2ull << 30 }, { "[quota]\nstore = 1 TiB\n", 1ull << 40 },
        { "[quota]\nstore = 65536 KiB\n", 64ull << 20 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int rc = parse(&cfg, sizes[i].text, err);
        if (rc != 0)
            fail_msg("%s: %s", sizes[i].text, err);
        assert_int_equal(cfg.store_max, sizes[i].store);
        kn_config_free(&cfg);
    }
    static const char *const bools[] = { "yes", "true", "on", "1", "no", "false", "off", "0" };
    for (size_t i = 0; i < 8; i++) {
        char text[64];
        snprintf(text, sizeof text, "[http]\nenabled = %s\n", bools[i]);
        assert_rc(0, parse(&cfg, text, err));
        assert_int_equal(cfg.http_enabled, i < 4);
        kn_config_free(&cfg);
    }
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "[log]\nlevel = %s\n", levels[i]);
        assert_rc(0, parse(&cfg, text, err));
        assert_int_equal(cfg.log_level, i);
        kn_config_free(&cfg);
    }
    /* "off": do not accept connections; a key-less council section is fine. */
    assert_rc(0, parse(&cfg, "[node]\nlisten = off\nconnections = 0\n", err));
    assert_string_equal(cfg.councils[0].listen, "");
    assert_int_equal(cfg.councils[0].connections, 0);
    kn_config_free(&cfg);
    assert_rc(0, parse(&cfg, "[node]\n[log]\n[http]\n[limits]\n[quota]\n", err));
    assert_int_equal(cfg.ncouncils, 1);
    kn_config_free(&cfg);
    /* No trailing newline; a value holding ';' without a blank before it stays whole. */
    assert_rc(0, parse(&cfg, "[node]\nweb_path = /a.b_c~d-e/f", err));
    assert_string_equal(cfg.councils[0].web_path, "/a.b_c~d-e/f");
    kn_config_free(&cfg);
}

static void test_many_councils(void **state)
{
    (void)state;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    const char *text = "[log]\nlevel = warn\n"
                       "[council musterstadt]\n"
                       "data = /var/lib/knoten/musterstadt\n"
                       "listen = 0.0.0.0:9001\n"
                       "peer = 127.0.0.1:9002\n"
                       "[council nachbarort-2]\n"
                       "data = /var/lib/knoten/nachbarort\n"
                       "listen = 0.0.0.0:9002\n"
                       "web_path = /nb\n"
                       "announce = nb.example:9002\n"
                       "[council dritte_gem]\n"
                       "data = /var/lib/knoten/dritte\n"
                       "listen = off\n";
    int rc = parse(&cfg, text, err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(cfg.multi);
    assert_int_equal(cfg.log_level, KN_LOG_WARN);
    assert_int_equal(cfg.ncouncils, 3);
    assert_string_equal(cfg.councils[0].name, "musterstadt");
    assert_int_equal(cfg.councils[0].line, 3);
    assert_string_equal(cfg.councils[0].data, "/var/lib/knoten/musterstadt");
    assert_string_equal(cfg.councils[0].web_path, "/musterstadt");
    assert_int_equal(cfg.councils[0].peers.n, 1);
    assert_string_equal(cfg.councils[1].name, "nachbarort-2");
    assert_string_equal(cfg.councils[1].web_path, "/nb");
    assert_true(cfg.councils[1].announce_set);
    assert_false(cfg.councils[0].announce_set);
    assert_string_equal(cfg.councils[2].name, "dritte_gem");
    assert_string_equal(cfg.councils[2].listen, "");
    assert_string_equal(cfg.councils[2].web_path, "/dritte_gem");
    kn_config_free(&cfg);

    /* The bound: 64 councils parse, 65 do not. */
    size_t cap = 80 * 100;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(
            big + n, cap - n, "[council c%d]\ndata = /d/%d\nlisten = off\n", i, i);
    char *cut = strstr(big, "[council c64]");
    assert_non_null(cut);
    rc = kn_config_parse(&cfg, big, (size_t)(cut - big), "t.conf", err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.ncouncils, 64);
    kn_config_free(&cfg);
    rc = kn_config_parse(&cfg, big, n, "t.conf", err, sizeof err);
    assert_rc(KN_ECONFIG, rc);
    assert_non_null(strstr(err, "t.conf:193: more than 64 [council NAME] sections"));
    free(big);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("listen = 1.2.3.4:5\n", "t.conf:1: ", "\"listen\" stands before any section");
    expect_error("\n[nodes]\n", "t.conf:2: ",
        "unknown section [nodes]; sections: [node], [council NAME], [log], [http], [limits], "
        "[quota]");
    expect_error("[node\n", "t.conf:1: ", "needs a closing ']'");
    expect_error("[node] x\n", "t.conf:1: ", "only a comment may follow a section header");
    expect_error("[council]\n", "t.conf:1: ", "unknown section [council]");
    expect_error("[council Muster]\n", "t.conf:1: ", "\"Muster\" is not a council name");
    expect_error("[council -x]\n", "t.conf:1: ", "is not a council name");
    expect_error("[council a b]\n", "t.conf:1: ", "is not a council name");
    expect_error("[council "
                 "abcdefghijabcdefghijabcdefghijabc]\n",
        "t.conf:1: ", "is not a council name: 1 to 32 characters");
    expect_error("[node]\nlisten\n", "t.conf:2: ", "not a \"key = value\" line");
    char longline[300];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "[node]\ndata = /", 15);
    strcpy(longline + 7 + 199, "\n");
    expect_error(longline, "t.conf:2: ", "longer than 198 characters");
    /* 198 characters are fine. */
    longline[7 + 198] = '\n';
    longline[7 + 199] = 0;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    int rc = parse(&cfg, longline, err);
    if (rc != 0)
        fail_msg("%s", err);
    kn_config_free(&cfg);
}

static void test_nul_inside(void **state)
{
    (void)state;
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    static const char text[] = "[node]\ndata = /x\0y\n";
    assert_rc(KN_ECONFIG, kn_config_parse(&cfg, text, sizeof text - 1, "t.conf", err, sizeof err));
    assert_non_null(strstr(err, "t.conf:2: the line contains a NUL byte"));
    /* A short error buffer gets a cut message, no overflow; no buffer at all is fine too. */
    char tiny[12];
    assert_rc(KN_ECONFIG, kn_config_parse(&cfg, "[x]", 3, "t.conf", tiny, sizeof tiny));
    assert_string_equal(tiny, "t.conf:1: u");
    assert_rc(KN_ECONFIG, kn_config_parse(&cfg, "[x]", 3, "t.conf", NULL, 0));
    assert_rc(KN_EINVAL, kn_config_parse(NULL, "", 0, "t.conf", err, sizeof err));
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error("[node]\n[council a]\n",
        "t.conf:2: ", "[council NAME] sections cannot be mixed with [node] (line 1)");
    expect_error("[council a]\ndata = /a\n[node]\n",
        "t.conf:3: ", "[node] cannot be mixed with [council NAME]");
    expect_error("[council a]\ndata = /a\n[council a]\n",
        "t.conf:3: ", "[council a] appears twice (first on line 1)");
    expect_error("[log]\nlevel = info\n[http]\n[log]\n",
        "t.conf:4: ", "[log] appears twice (first on line 1)");
    expect_error("[node]\ndata = /a\n[node]\n", "t.conf:3: ", "[node] appears twice");
    expect_error("[node]\nlisten = 1.2.3.4:1\nlisten = 1.2.3.4:2\n",
        "t.conf:3: ", "listen is given twice in [node] (first on line 2)");
    expect_error("[council x]\ndata = /a\ndata = /b\n",
        "t.conf:3: ", "data is given twice in [council x] (first on line 2)");
    expect_error(
        "[log]\nlevel = info\nlevel = info\n", "t.conf:3: ", "level is given twice in [log]");
    expect_error("[node]\nlistn = 1.2.3.4:1\n", "t.conf:2: ",
        "unknown key \"listn\" in [node]; allowed: data, listen, announce, connections, peer, "
        "web_path");
    expect_error("[council a]\nlevel = info\n",
        "t.conf:2: ", "unknown key \"level\" in [council a]; allowed: data, listen");
    expect_error("[log]\nlevl = info\n",
        "t.conf:2: ", "unknown key \"levl\" in [log]; allowed: level, timestamps");
    expect_error("[http]\nport = 1\n", "t.conf:2: ", "allowed: enabled, listen");
    expect_error("[limits]\ninbound = 1\n",
        "t.conf:2: ", "allowed: max_inbound, max_handshakes, max_pending, file_upload_rate");
    expect_error(
        "[quota]\ndocs = 1\n", "t.conf:2: ", "allowed: store, max_file, files_per_council");
    expect_error("[node]\nLISTEN = 1.2.3.4:1\n", "t.conf:2: ", "unknown key \"LISTEN\"");
    expect_error("[node]\ndata =\n", "t.conf:2: ", "data needs a value");
    expect_error("[node]\n= /x\n", "t.conf:2: ", "unknown key \"\"");
}

static void test_value_errors(void **state)
{
    (void)state;
    expect_error(
        "[node]\ndata = var/lib\n", "t.conf:2: ", "data = \"var/lib\" is not an absolute path");
    expect_error("[node]\ndata = \"/var/lib\"\n", "t.conf:2: ", "(write values without quotes)");
    expect_error("[node]\nlisten = localhost:8471\n",
        "t.conf:2: ", "listen = \"localhost:8471\" is not an IP address and port");
    expect_error("[node]\nlisten = 1.2.3.4\n", "t.conf:2: ", "is not an IP address and port");
    expect_error("[node]\nlisten = ::1:8471\n", "t.conf:2: ", "is not an IP address and port");
    expect_error("[node]\nlisten = [1.2.3.4]:8471\n", "t.conf:2: ", "is not an IP address");
    expect_error("[node]\nlisten = [::1]:70000\n", "t.conf:2: ", "is not an IP address");
    expect_error(
        "[node]\nannounce = nohost\n", "t.conf:2: ", "announce = \"nohost\" is not HOST:PORT");
    char many[2048];
    size_t n = (size_t)snprintf(many, sizeof many, "[node]\n");
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "announce = h%d.example:1\n", i);
    expect_error(many, "t.conf:18: ", "more than 16 announce lines");
    expect_error("[node]\nconnections = 257\n",
        "t.conf:2: ", "connections = \"257\": give a number from 0 to 256");
    expect_error("[node]\nconnections = -1\n", "t.conf:2: ", "give a number from 0 to 256");
    expect_error("[node]\nconnections = 8x\n", "t.conf:2: ", "give a number");
    expect_error("[node]\nconnections = 99999999999999999999999\n", "t.conf:2: ", "give a number");
    expect_error("[node]\npeer = nohost\n", "t.conf:2: ", "\"nohost\" is not HOST:PORT");
    expect_error("[node]\npeer = 1.2.3.4:1 abc\n",
        "t.conf:2: ", "after the address only the peer's key may follow, 64 hex digits");
    expect_error("[node]\npeer = 1.2.3.4:1 "
                 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        "t.conf:2: ", "64 hex digits");
    expect_error("[node]\npeer = 1.2.3.4:1\npeer = 1.2.3.4:1\n",
        "t.conf:3: ", "peer 1.2.3.4:1 is listed twice");
    char *peers = malloc(300 * 32);
    assert_non_null(peers);
    n = (size_t)snprintf(peers, 300 * 32, "[node]\n");
    for (int i = 0; i < 257; i++)
        n += (size_t)snprintf(peers + n, 300 * 32 - n, "peer = p%d.example:1\n", i);
    expect_error(peers, "t.conf:258: ", "more than 256 peer lines");
    free(peers);
    expect_error("[node]\nweb_path = musterstadt\n",
        "t.conf:2: ", "web_path = \"musterstadt\": give a URL path such as / or /musterstadt");
    expect_error("[node]\nweb_path = /a/\n", "t.conf:2: ", "give a URL path");
    expect_error("[node]\nweb_path = /a//b\n", "t.conf:2: ", "give a URL path");
    expect_error("[node]\nweb_path = /a/../b\n", "t.conf:2: ", "give a URL path");
    expect_error("[node]\nweb_path = /./b\n", "t.conf:2: ", "give a URL path");
    expect_error("[node]\nweb_path = /a?b\n", "t.conf:2: ", "give a URL path");
    expect_error("[node]\nweb_path = /"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "t.conf:2: ", "at most 64 characters");
    expect_error("[log]\nlevel = verbose\n",
        "t.conf:2: ", "level = \"verbose\": give one of error, warn, info, debug");
    expect_error(
        "[log]\ntimestamps = maybe\n", "t.conf:2: ", "timestamps = \"maybe\": give yes or no");
    expect_error("[http]\nenabled = Yes\n", "t.conf:2: ", "enabled = \"Yes\": give yes or no");
    expect_error("[http]\nlisten = off\n",
        "t.conf:2: ", "listen = \"off\" is not an IP address and port such as 127.0.0.1:8470");
    expect_error("[limits]\nmax_inbound = 0\n",
        "t.conf:2: ", "max_inbound = \"0\": give a number from 1 to 65536");
    expect_error("[limits]\nmax_handshakes = 5000\n", "t.conf:2: ", "from 1 to 4096");
    expect_error("[limits]\nmax_pending = 999\n", "t.conf:2: ", "from 1000 to 100000000");
    expect_error("[limits]\nping_timeout = 1\n",
        "t.conf:2: ", "ping_timeout = \"1\": give a number from 2 to 3600");
    expect_error("[limits]\nping_timeout = 3601\n", "t.conf:2: ", "from 2 to 3600");
    expect_error("[quota]\nstore = 1MiB\n", "t.conf:2: ",
        "store = \"1MiB\": give a size such as 512MiB, 2GiB or 20GiB, from 16 MiB to 1048576 GiB, "
        "or 0 for no limit");
    expect_error("[quota]\nmax_file = 0\n", "t.conf:2: ",
        "max_file = \"0\": give a size such as 512MiB, 2GiB or 20GiB, from 1 MiB to 16 GiB");
    expect_error("[quota]\nmax_file = 17GiB\n", "t.conf:2: ", "from 1 MiB to 16 GiB");
    expect_error("[quota]\nmax_file = 100k\n", "t.conf:2: ", "from 1 MiB to 16 GiB");
    expect_error("[quota]\nfiles_per_council = 512k\n", "t.conf:2: ",
        "files_per_council = \"512k\": give a size such as 512MiB, 2GiB or 20GiB, from 1 MiB to "
        "1048576 GiB, or 0 for no limit");
    expect_error("[quota]\nstore = 10 GB\n", "t.conf:2: ", "give a size");
    expect_error("[quota]\nstore = lots\n", "t.conf:2: ", "give a size");
    expect_error("[quota]\nstore = 99999999999TiB\n", "t.conf:2: ", "give a size");
    expect_error("[quota]\nstore = 2PiB\n", "t.conf:2: ", "give a size");
}

static void test_council_checks(void **state)
{
    (void)state;
    expect_error("[council a]\nlisten = off\n",
        "t.conf:1: ", "[council a] needs its own data directory: data = /var/lib/knoten/a");
    expect_error("[council a]\ndata = /d\nlisten = off\n[council b]\ndata = /d\nlisten = off\n",
        "t.conf:4: ", "[council b] uses the data directory of [council a] (/d)");
    expect_error("[council a]\ndata = /a\n[council b]\ndata = /b\n",
        "t.conf:3: ", "[council b] listens on 0.0.0.0:8471 like [council a]");
    expect_error("[council a]\ndata = /a\nlisten = off\nweb_path = /x\n"
                 "[council b]\ndata = /b\nlisten = off\nweb_path = /x\n",
        "t.conf:5: ", "[council b] has the web_path /x of [council a]");
    expect_error("[http]\nenabled = yes\nlisten = 127.0.0.1:9000\n[node]\nlisten = "
                 "127.0.0.1:9000\n",
        "t.conf:4: ", "where [http] listens too");
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/kn-config-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    kn_config cfg;
    char err[KN_CONFIG_ERR_MAX];
    snprintf(path, sizeof path, "%s/knoten.conf", dir);
    assert_rc(KN_ENOTFOUND, kn_config_load(&cfg, path, err, sizeof err));
    assert_non_null(strstr(err, "cannot read the configuration file"));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(full, f);
    fclose(f);
    int rc = kn_config_load(&cfg, path, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.councils[0].data, "/srv/knoten/musterstadt");
    kn_config_free(&cfg);
    f = fopen(path, "w");
    fputs("[node]\n\n\nlisten = nowhere\n", f);
    fclose(f);
    assert_rc(KN_ECONFIG, kn_config_load(&cfg, path, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "%s:4: listen = \"nowhere\"", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("expected \"%s\", got \"%s\"", want, err);
    assert_rc(KN_EIO, kn_config_load(&cfg, dir, err, sizeof err));
    assert_non_null(strstr(err, "is not a regular file"));
    assert_int_equal(truncate(path, KN_CONFIG_FILE_MAX + 1), 0);
    assert_rc(KN_ETOOBIG, kn_config_load(&cfg, path, err, sizeof err));
    assert_non_null(strstr(err, "larger than"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_without_a_file),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_many_councils),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_council_checks),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
