/*
 * `knoten`: the command line of a knoten node. Dispatches to the subcommands
 * in cmd_*.c; every subcommand takes --data DIR and --help.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "env_system.h"
#include "hex.h"

#define DATA_HELP                                                                                  \
    "  --data DIR        data directory (default: $KNOTEN_DATA, /var/lib/knoten as root,\n"        \
    "                    else ~/.local/share/knoten)\n"                                            \
    "  -h, --help        show this help\n"

const cli_command cli_commands[] = {
    { "init", cmd_init, "create this node's identity and found a network",
        "knoten init [--found NAME] [--description TEXT] [--admit K] [--data DIR]\n"
        "       knoten init --network-key-file FILE [--data DIR]\n\n"
        "Creates the data directory, the node's identity key and the network key\n"
        "(both 0600), and founds a new network: the signed `network` object names it\n"
        "and says how many member signatures admit a new council (default 1).\n"
        "With --network-key-file the node founds nothing and takes the network key of\n"
        "an existing network instead (a copy of a member's DATA/network.key).\n\n"
        "  --network-key-file FILE  the network key: 32 raw bytes or 64 hex digits\n"
        "  --found NAME      name of the network (default: \"knoten\")\n"
        "  --description T   description of the network\n"
        "  --admit K         member signatures needed to admit a council (1-255)\n" DATA_HELP },
    { "run", cmd_run, "run the node (the main job)",
        "knoten run [--config FILE] [--listen HOST:PORT|off] [--announce HOST:PORT]...\n"
        "           [--no-announce] [--connections N] [--log-level LEVEL]\n"
        "           [--http HOST:PORT|off] [--trusted-proxy IP] [--check] [--data DIR]\n\n"
        "Runs the node in the foreground until SIGINT or SIGTERM. Initialises the\n"
        "data directory first if it is empty. --announce and --connections are\n"
        "remembered for the next start. Logs one line per event to stderr.\n\n"
        "  --config FILE         read the settings from FILE (INI; docs/config.md and\n"
        "                        `man knoten` list every key). Without it every setting\n"
        "                        has its default. The options below override the file.\n"
        "                        A file with several [council NAME] sections runs them\n"
        "                        all in this one process.\n"
        "  --listen HOST:PORT    where to accept peers (default 0.0.0.0:8471); off: nowhere\n"
        "  --announce HOST:PORT  an address other members can reach this node at,\n"
        "                        published in a signed addr object; repeat for several.\n"
        "                        Behind a firewall, announce nothing: the node still\n"
        "                        takes part through the connections it dials\n"
        "  --no-announce         forget the remembered addresses\n"
        "  --connections N       target number of connections (default 8): configured\n"
        "                        peers first, then members' announced addresses\n"
        "  --log-level LEVEL     error, warn, info (default) or debug\n"
        "  --http HOST:PORT      where the web UI and API listen (default 127.0.0.1:8470;\n"
        "                        a LAN address behind a reverse proxy; off: not at all).\n"
        "                        A port in use is logged and the node runs on without\n"
        "  --trusted-proxy IP    the reverse proxy whose X-Forwarded-For/-Proto are\n"
        "                        believed (session cookies get Secure behind https)\n"
        "  --check               check the file and the options, print the settings\n"
        "                        that would apply, and stop (exit 1 if the file is "
        "bad)\n" DATA_HELP },
    { "demo", cmd_demo, "start three councils on 127.0.0.1 with staff and sample content",
        "knoten demo [--dir DIR] [--port N] [--web-port N]\n\n"
        "The fastest way to see replication: starts three councils on this machine\n"
        "(Stadt Musterstadt founds a network and invites Gemeinde Bergdorf, which invites\n"
        "Landkreis Talheim), gives each a member of staff with a web login and some sample\n"
        "content in German, prints the three web addresses and logins, and runs until\n"
        "Ctrl-C. Open the addresses in three browser tabs and write in one of them.\n\n"
        "  --dir DIR         where the three nodes keep their data and logs (default: a new\n"
        "                    /tmp/knoten-demo-XXXXXX)\n"
        "  --port N          peer ports N, N+1, N+2 (default 9471)\n"
        "  --web-port N      web ports N, N+1, N+2 (default 8481)\n"
        "  -h, --help        show this help\n" },
    { "peer", cmd_peer, "add, remove or list the peers this node dials",
        "knoten peer add HOST:PORT [KEY] [--data DIR]\n"
        "       knoten peer rm HOST:PORT [--data DIR]\n"
        "       knoten peer ls [--data DIR]      (also: knoten peers)\n\n"
        "add   stores a peer to dial. KEY (64 hex digits, shown by `knoten status` on\n"
        "      that node) pins its identity: a node at that address with another\n"
        "      identity is refused. Without KEY any holder of the network key is accepted.\n"
        "      Adding an address again replaces its KEY.\n"
        "rm    forgets a peer; a running node disconnects from it.\n"
        "ls    shows each configured peer and what the running node knows about it:\n"
        "      connected, connecting, backing off (retry in N s) or never connected,\n"
        "      its identity, the last handshake, bytes in and out and the last error\n"
        "      (of a connected peer only one since it connected).\n\n"
        "A running node re-reads the list every 2 seconds and at once on SIGHUP.\n"
        "HOST:PORT is e.g. knoten.example.de:8471, 192.0.2.7:8471 or "
        "[2001:db8::7]:8471.\n" DATA_HELP },
    { "peers", cmd_peers, "list the peers (same as `knoten peer ls`)",
        "knoten peers [--data DIR]\n\nSame as `knoten peer ls`.\n" DATA_HELP },
    { "sync", cmd_sync, "show how replication with each peer is going",
        "knoten sync status [--json] [--data DIR]\n\n"
        "For each peer: the last reconciliation (when, how long, objects received\n"
        "and sent), and the objects and bytes of the current or last connection, as\n"
        "the running node reports them (updated about once a second). A large\n"
        "catch-up also logs its progress in the node's output.\n\n"
        "  --json            one JSON object per peer and line\n" DATA_HELP },
    { "invite", cmd_invite, "invite a council: print a one-time code for an e-mail",
        "knoten invite [--expires 7d] [--note TEXT] [--address HOST:PORT]... [--data DIR]\n"
        "       knoten invite ls [--json] [--data DIR]\n"
        "       knoten invite revoke ID [--data DIR]\n"
        "       knoten invite check CODE|- [--data DIR]\n\n"
        "Prints a one-time invite code to send to the person who runs another council's\n"
        "node. It holds the network key, this node's identity and addresses, and a secret;\n"
        "a checksum catches typos. This node keeps only a hash of the secret.\n\n"
        "  --expires TIME    how long the code works: 30m, 12h, 7d (default), 2w; at most 90d\n"
        "                    (also 90s, for tests)\n"
        "  --note TEXT       a note for `invite ls`, e.g. the council's name\n"
        "  --address H:P     where the new node reaches this one (repeat for up to 4);\n"
        "                    remembered for the next invite. Needed the first time unless\n"
        "                    this node announced its addresses in an `addr` object.\n\n"
        "ls      lists the invites: open, used (by which node), expired or withdrawn.\n"
        "revoke  withdraws an open invite; its code stops working.\n"
        "check   decodes a code without connecting: says whether it is mistyped, expired\n"
        "        or valid, and where it leads. Never prints the keys inside.\n" DATA_HELP },
    { "join", cmd_join, "join a network with an invite code from a member council",
        "knoten join CODE --name NAME [--ags CODE] [--timeout SECONDS] [--data DIR]\n\n"
        "Creates this node (its identity, and the network key from the code), connects to\n"
        "the inviting node, proves the code's one-time secret and receives the signed\n"
        "admission; then copies the network's library (the initial sync, with progress\n"
        "lines) and stops. Start the node afterwards with `knoten run`.\n"
        "A mistyped or expired code is reported before any connection is made.\n\n"
        "  CODE              the code from the e-mail (knoten1-...), or - to read it\n"
        "                    from standard input\n"
        "  --name NAME       the council's name, e.g. \"Gemeinde Musterstadt\"\n"
        "  --ags CODE        Amtlicher Gemeindeschluessel (8 digits) or\n"
        "                    Regionalschluessel (12 digits)\n"
        "  --timeout S       how long to wait for the admission (default 60)\n" DATA_HELP },
    { "admit", cmd_admit, "co-sign the admission of a council's node",
        "knoten admit KEY --name NAME [--ags CODE] [--data DIR]\n\n"
        "Publishes this node's signature admitting the node KEY (64 hex digits, shown by\n"
        "`knoten status` on that node). It becomes a member once the network's rule is met:\n"
        "k signatures of members (`knoten members` shows k and who has how many).\n\n"
        "  --name NAME       the council's name, e.g. \"Gemeinde Musterstadt\"\n"
        "  --ags CODE        Amtlicher Gemeindeschluessel (8 digits) or\n"
        "                    Regionalschluessel (12 digits)\n" DATA_HELP },
    { "revoke", cmd_revoke, "end a council's membership or a user's certificate",
        "knoten revoke KEY --reason TEXT [--force] [--data DIR]\n\n"
        "Publishes a revocation of KEY (a node or a user). Every node refuses what the key\n"
        "(and, for a node, its users) signs from now on, and removes what it already holds\n"
        "from that time on. A revocation is final.\n\n"
        "  --reason TEXT     why (shown on every node; required)\n"
        "  --force           allow revoking this node's own key\n" DATA_HELP },
    { "members", cmd_members, "list the member councils and their state",
        "knoten members [--json] [--data DIR]\n\n"
        "Lists every council node the roster knows: founder, member (since when, admitted\n"
        "by how many of the required signatures), pending (not enough signatures yet) or\n"
        "revoked (when).\n\n"
        "  --json            one JSON object per line\n" DATA_HELP },
    { "user", cmd_user, "add, list or revoke staff identities and their web logins",
        "knoten user add --name NAME --role ROLE [--expertise TAG,TAG] [--lang de,en]\n"
        "                [--login LOGIN [--admin] [--password-stdin | --activate]] [--data DIR]\n"
        "       knoten user ls [--all] [--json] [--data DIR]\n"
        "       knoten user revoke KEY|NAME [--reason TEXT] [--data DIR]\n"
        "       knoten user passwd LOGIN [--password-stdin | --activate] [--admin | --staff]\n"
        "                [--data DIR]\n"
        "       knoten user login KEY|NAME --login LOGIN [--admin]\n"
        "                [--password-stdin | --activate] [--data DIR]\n"
        "       knoten user logins [--data DIR]\n\n"
        "add     creates a key for a member of staff, held by this node in DATA/users/ (0600),\n"
        "        and publishes the user certificate signed by the node. Prints the user key.\n"
        "ls      lists this node's users (--all: every node's): name, role, expertise,\n"
        "        languages, key, state, and whether this node holds the key.\n"
        "revoke  publishes a revocation of the user's certificate and deletes the key file;\n"
        "        what the user signs from then on is refused everywhere.\n"
        "login   gives a user made without --login a web login.\n"
        "passwd  sets a new password for a web login, or a new activation link.\n"
        "logins  lists the web logins: login, admin or staff, user key, active or pending.\n\n"
        "  --login LOGIN     also a web login for this user (lower-case letters, digits,\n"
        "                    '.', '_', '-'); the password is asked on the terminal, or\n"
        "  --password-stdin  read it as one line from standard input (8 to 1024 bytes), or\n"
        "  --activate        print a one-time link (7 days) for the person to choose it;\n"
        "                    without a terminal and without either option, a link\n"
        "  --admin           the login may use the administration page (passwd: make it\n"
        "                    an admin; --staff: take that back)\n" DATA_HELP },
    { "status", cmd_status, "show identity, network, peers, sync and store",
        "knoten status [--json] [--data DIR]\n\n"
        "Shows this node's identity, its network and membership, whether the node\n"
        "runs, each peer and its state, the last reconciliation, the object counts,\n"
        "and the store's size on disk and map usage. Works while the node runs.\n\n"
        "  --json            one JSON object (fields in docs/operations.md)\n" DATA_HELP },
    { "backup", cmd_backup, "copy the node (store and keys) while it runs",
        "knoten backup PATH [--no-keys] [--verify] [--data DIR]\n\n"
        "Writes a compact, consistent copy of the node into the new or empty directory\n"
        "PATH (0700): the store, taken as one snapshot even while the node runs, and\n"
        "the node's secret keys (identity, network, transport, staff users; 0600).\n"
        "With the keys, the backup is as secret as the node itself: keep it so.\n"
        "`knoten restore PATH` brings it back.\n\n"
        "  --no-keys         leave the keys out (keep DATA/*.key safe elsewhere)\n"
        "  --verify          also verify the copy as `knoten restore` does\n" DATA_HELP },
    { "restore", cmd_restore, "bring a node back from a backup, verifying everything",
        "knoten restore PATH [--force] [--data DIR]\n\n"
        "Restores the backup in PATH into the data directory. First the copy is staged\n"
        "and verified: every object's signature and id, the store's indexes, and every\n"
        "file chunk against its hash; an older store is migrated. Only then does it take\n"
        "the data directory's place. Refuses a directory that holds a node unless\n"
        "--force, and a directory whose node is running.\n\n"
        "  --force           replace what the data directory holds; the old contents are\n"
        "                    kept in DATA/replaced-TIME until you delete them\n" DATA_HELP },
    { "check", cmd_check, "verify that the store is consistent (safe while the node runs)",
        "knoten check [--data DIR]\n\n"
        "Reads the whole store once and checks that every object is in every index,\n"
        "that every index entry names a stored object, that the fingerprint tree used\n"
        "for synchronisation agrees with the objects, that pending and retracted\n"
        "objects are kept apart, and that every stored file chunk matches its hash\n"
        "and is accounted for. Exits 1 and names the first problem if not.\n" DATA_HELP },
    { "thread", cmd_thread, "start a forum thread, or edit one",
        "knoten thread --area AREA --title TEXT [--body TEXT | --body-file FILE]\n"
        "              [--tag TAG]... [--as USER] [--data DIR]\n"
        "       knoten thread --edit ID [--title TEXT] [--body TEXT | --body-file FILE]\n"
        "              [--tag TAG]... [--as USER] [--data DIR]\n\n"
        "Publishes a forum thread in an area (e.g. \"Vergaberecht\"). The body is\n"
        "Markdown (shown safely: no HTML, no script links). --edit publishes a new\n"
        "version of a thread by the same author; what is not given is kept, and\n"
        "listings show the newest version.\n\n"
        "  --area AREA       area name (required; --space is the same)\n"
        "  --title TEXT      title (required)\n"
        "  --body TEXT       body text; or --body-file FILE, '-' for stdin\n"
        "  --tag TAG         a tag; repeat for several\n"
        "  --edit ID         the thread this version replaces\n"
        "  --as USER         publish as this member of staff (name or key from\n"
        "                    `knoten user ls`) instead of as the node\n" DATA_HELP },
    { "post", cmd_post, "reply in a forum thread, or edit a reply",
        "knoten post THREAD-ID [--reply-to POST-ID] (--body TEXT | --body-file FILE)\n"
        "            [--as USER] [--data DIR]\n"
        "       knoten post --edit POST-ID (--body TEXT | --body-file FILE) [--as USER]\n\n"
        "Publishes a reply to a thread, or to a post in it with --reply-to.\n\n"
        "  --reply-to ID     the post this one answers (default: the thread)\n"
        "  --body TEXT       body text (Markdown); or --body-file FILE, '-' for stdin\n"
        "  --edit ID         publish a new version of this post (same author)\n"
        "  --as USER         publish as this member of staff\n" DATA_HELP },
    { "link", cmd_link, "share a link, or edit one",
        "knoten link --area AREA --url URL --title TEXT [--description TEXT] [--tag TAG]...\n"
        "            [--as USER] [--data DIR]\n"
        "       knoten link --edit ID [--url URL] [--title TEXT] [--description TEXT]\n"
        "            [--tag TAG]... [--as USER]\n\n"
        "  --url URL         an http:// or https:// address\n"
        "  --description T   what it is and why it helps (Markdown)\n"
        "  --tag TAG         a tag; repeat for several\n"
        "  --edit ID         publish a new version of this link (same author; what is\n"
        "                    not given is kept)\n"
        "  --as USER         publish as this member of staff\n" DATA_HELP },
    { "retract", cmd_retract, "take back an object (every version of it)",
        "knoten retract ID [--reason TEXT] [--as USER] [--data DIR]\n\n"
        "Publishes a retraction of the object and of each of its other versions:\n"
        "every node deletes their content and keeps only the ids, so they are\n"
        "never fetched again. Retracting a poll or an event removes its votes or\n"
        "RSVPs too. Allowed for the author (--as USER for a user's object) and\n"
        "for the node that certified the author. ID may be shortened to its first 8\n"
        "or more digits, as `knoten ls` shows it, if no other object starts so.\n" DATA_HELP },
    { "poll", cmd_poll, "start a poll; list polls; show the results",
        "knoten poll --area AREA --question TEXT --option TEXT --option TEXT...\n"
        "            [--multiple] [--deadline WHEN] [--tz ZONE] [--show-early]\n"
        "            [--count user|council] [--as USER] [--data DIR]\n"
        "       knoten poll ls [--area AREA] [--data DIR]\n"
        "       knoten poll show POLL-ID [--json] [--data DIR]\n\n"
        "Publishes a poll. Staff vote with `knoten vote`; a later ballot by the same\n"
        "voter before the deadline replaces the earlier one, ballots after it are\n"
        "refused. Every node counts the same from the same ballots.\n\n"
        "  --option TEXT     an answer (2 to 32; numbered from 1 in `poll show`)\n"
        "  --multiple        voters may choose several options\n"
        "  --deadline WHEN   \"2026-12-01 18:00\", a date (until its end), or 7d / 36h\n"
        "                    from now (default 14d)\n"
        "  --tz ZONE         the zone of --deadline (default Europe/Berlin)\n"
        "  --show-early      show results before the deadline (default: only after)\n"
        "  --count user      one vote per member of staff (default)\n"
        "  --count council   one answer per council: the latest ballot of any of its staff\n"
        "  --as USER         publish as this member of staff\n"
        "show  the question, the count per option, and per council how its staff voted\n"
        "      (or its answer); --json for programs.\n" DATA_HELP },
    { "vote", cmd_vote, "vote in a poll (as a member of staff)",
        "knoten vote POLL-ID --choice N [--choice N]... --as USER [--data DIR]\n\n"
        "Casts USER's ballot: N is the option's number in `knoten poll show`. Voting\n"
        "again before the deadline replaces the earlier ballot.\n" DATA_HELP },
    { "event", cmd_event, "announce an event or webinar; list and show events",
        "knoten event --area AREA --title TEXT --start \"2026-12-03 10:00\" --end \"...\"\n"
        "             [--tz ZONE] (--link URL | --place TEXT) [--group TEXT] [--lang de]...\n"
        "             [--contact TEXT] [--capacity N] [--description TEXT] [--as USER]\n"
        "       knoten event --edit ID [any of the options above]\n"
        "       knoten event ls [--area AREA] [--all] [--data DIR]\n"
        "       knoten event show EVENT-ID [--data DIR]\n\n"
        "Publishes an event. Times are local times in --tz (default Europe/Berlin);\n"
        "every node shows the same instant in the event's zone.\n\n"
        "  --link URL        the online meeting (http:// or https://)\n"
        "  --place TEXT      where it happens (at least one of --link and --place)\n"
        "  --group TEXT      who it is for, or who organises it\n"
        "  --lang TAG        a working language; repeat for several\n"
        "  --contact TEXT    how to register\n"
        "  --capacity N      number of places\n"
        "  --edit ID         publish a new version (same author; what is not given is kept)\n"
        "ls    coming events (--all: past ones too), in start order\n"
        "show  the event with its RSVPs (each member of staff's latest answer)\n" DATA_HELP },
    { "rsvp", cmd_rsvp, "answer an event: yes, no or maybe (as a member of staff)",
        "knoten rsvp EVENT-ID yes|no|maybe --as USER [--data DIR]\n\n"
        "A later answer by the same user replaces the earlier one.\n" DATA_HELP },
    { "ics", cmd_ics, "export an event, or an area's calendar, as iCalendar (.ics)",
        "knoten ics EVENT-ID [-o FILE] [--data DIR]\n"
        "       knoten ics --area AREA [-o FILE] [--data DIR]\n\n"
        "Writes an iCalendar file (RFC 5545) that calendar programs import: times in\n"
        "the event's zone with its VTIMEZONE, the description, place or link, and the\n"
        "RSVP counts. An edited event keeps its UID, so importing again updates it.\n\n"
        "  -o, --output FILE write to FILE instead of standard output\n" DATA_HELP },
    { "experts", cmd_experts, "find staff of any council by expertise and language",
        "knoten experts [--tag TEXT] [--lang TAG] [--json] [--data DIR]\n\n"
        "Lists the staff of every council from their certificates (`knoten user add\n"
        "--expertise ... --lang ...`): name, role, council, expertise, languages, key.\n\n"
        "  --tag TEXT        only those with an expertise tag containing TEXT (case does\n"
        "                    not matter, umlauts included)\n"
        "  --lang TAG        only those who speak TAG (e.g. de, en)\n"
        "  --json            one JSON object per line\n" DATA_HELP },
    { "msg", cmd_msg, "direct messages between staff, encrypted end to end",
        "knoten msg send --as USER --to USER [--subject TEXT] [--reply-to ID]\n"
        "                (TEXT | --body-file FILE) [--data DIR]\n"
        "       knoten msg ls --as USER [--with USER] [--data DIR]\n"
        "       knoten msg read ID --as USER [--data DIR]\n\n"
        "send  encrypts TEXT for the recipient (a name or key from `knoten experts`,\n"
        "      at any council) and publishes it; every node carries it, only the\n"
        "      recipient (and the sender) can read it.\n"
        "ls    USER's conversations, one line per person; --with shows one of them.\n"
        "read  decrypts and prints one message.\n"
        "--as USER names whose mailbox: a member of staff whose key this node holds.\n" DATA_HELP },
    { "feed", cmd_feed, "write an area's Atom feed",
        "knoten feed AREA [--base-url URL] [--limit N] [-o FILE] [--data DIR]\n\n"
        "Writes an Atom feed (RFC 4287) of the area's newest threads, replies, links,\n"
        "events, polls and documents (newest version of each), with the Markdown\n"
        "rendered safely as HTML. Every node writes the same feed.\n\n"
        "  --base-url URL    this node's web address, for links to entries\n"
        "  --limit N         entries at most (default 50, up to 1000)\n"
        "  -o, --output FILE write to FILE instead of standard output\n" DATA_HELP },
    { "ls", cmd_ls, "list objects",
        "knoten ls [--area AREA] [--type TYPE] [--author KEY] [--limit N] [--versions]\n"
        "          [--json] [--data DIR]\n\n"
        "Lists objects, newest first. Of an edited object only the newest version\n"
        "is listed.\n\n"
        "  --area AREA       only this area (with --type, or all types; --space is the same)\n"
        "  --versions        list earlier versions of edited objects too\n"
        "  --type TYPE       only this type (thread, post, link, doc, ...)\n"
        "  --author KEY      only objects by this key (64 hex digits)\n"
        "  --limit N         at most N objects (default 100, 0 for all)\n"
        "  --json            one JSON object per line\n" DATA_HELP },
    { "search", cmd_search, "search titles, texts, tags and file names",
        "knoten search WORDS... [--area AREA] [--type TYPE] [--council KEY|NAME]\n"
        "              [--since DATE] [--until DATE] [--limit N] [--json] [--data DIR]\n\n"
        "Finds threads, posts, links, documents, polls, events and users (by name, role\n"
        "and expertise) that contain every word, best first: a word in the title counts\n"
        "more than in the tags, and more than in the text. German and English words are\n"
        "found in their other forms (Gewerbesteuern finds Gewerbesteuer, Bescheide finds\n"
        "Bescheid), umlauts match ae, oe, ue and the sharp s matches ss, and a word also\n"
        "finds the compounds it is part of (Steuer finds Gewerbesteuer, after the exact\n"
        "matches).\n"
        "Only the newest version of an edited object is shown. If nothing contains every\n"
        "word, the results with the most of them are shown, and the command says so.\n\n"
        "  --area AREA       only this area (also --space)\n"
        "  --type TYPE       doc, thread, post, link, poll, event or user\n"
        "  --council C       only what this council or its staff published: its key\n"
        "                    (64 hex digits) or its name as in `knoten members`\n"
        "  --since DATE      created on or after DATE: 2026-11-01 or 2026-11-01T08:00 (UTC)\n"
        "  --until DATE      created before the end of DATE (or before DATE THH:MM)\n"
        "  --limit N         at most N results (default 20, at most 1000)\n"
        "  --json            one JSON object per result and line\n" DATA_HELP },
    { "show", cmd_show, "show one object",
        "knoten show ID [--json | --html] [--data DIR]\n\n"
        "Shows an object with its fields, which version it is, and what points to it\n"
        "(replies, votes, RSVPs) over all its versions. ID may be shortened to its first\n"
        "8 or more digits, as `knoten ls` shows it, if no other object starts so.\n\n"
        "  --json            the object as one JSON line\n"
        "  --html            an HTML fragment: the object and, for a thread, its replies,\n"
        "                    with Markdown rendered safely\n" DATA_HELP },
    { "doc", cmd_doc, "publish, list, fetch and retract documents with files",
        "knoten doc publish FILE... --title TEXT [--area AREA] [--kind KIND]\n"
        "                  [--description TEXT] [--tag TAG]... [--lang LANG] [--licence TEXT]\n"
        "                  [--valid-from DATE] [--valid-until DATE] [--supersedes ID]\n"
        "                  [--mime TYPE]... [--as USER] [--data DIR]\n"
        "       knoten doc ls [--area AREA] [--all-versions] [--data DIR]\n"
        "       knoten doc get ID [-o DIR] [--force] [--data DIR]\n"
        "       knoten doc versions ID [--data DIR]\n"
        "       knoten doc retract ID [--reason TEXT] [--this-version-only] [--as USER]\n"
        "                  [--data DIR]\n"
        "       knoten doc limits [--max-file SIZE] [--quota SIZE] [--data DIR]\n"
        "       knoten doc policy [eager|on-demand] [--data DIR]\n\n"
        "publish   stores the files (in 256 KiB chunks, each with its BLAKE2b hash) and\n"
        "          publishes a signed document listing them; prints its id. Works while\n"
        "          the node runs, which then offers the files to its peers.\n"
        "          --area (default \"Allgemein\"), --kind letter, checklist, form,\n"
        "          instruction, template or other (default), --lang de, --licence,\n"
        "          --valid-from/--valid-until 2026-03-01 or 2026-03-01T08:00Z (UTC),\n"
        "          --mime once for all files or once per file (default: from the name).\n"
        "          --supersedes ID publishes a new version of a document by the same\n"
        "          signer; title, area, kind, description, language and licence are\n"
        "          taken over unless given. --as USER signs as a member of staff whose\n"
        "          key this node holds (default: the node).\n"
        "ls        lists the documents, newest first; a document with several versions\n"
        "          shows its newest, with the number of versions. Each line: id, date,\n"
        "          area, kind, title, files, size, and whether the files are complete\n"
        "          here, still being fetched, or refused by this node's limits.\n"
        "get       writes the document's files into DIR (default: the current\n"
        "          directory), checking every chunk; never overwrites without --force.\n"
        "          Files still being fetched are reported with how much is here.\n"
        "versions  lists every version of the document, newest first.\n"
        "retract   takes back one of this council's documents, every version of it\n"
        "          unless --this-version-only: every node deletes them and their files,\n"
        "          and keeps only the ids so they are never fetched again.\n"
        "limits    shows or sets the largest file this node stores (--max-file, default\n"
        "          2G, at most 16G) and the storage per council (--quota, default 50G;\n"
        "          0 or unlimited for none). SIZE: 500M, 2G, 1048576. Files refused\n"
        "          before that fit now are fetched; stored files are never deleted.\n"
        "policy    eager (default): the node fetches every file it accepts; on-demand:\n"
        "          only those `knoten doc get` asked for.\n" DATA_HELP },
    { "export", cmd_export, "write every object as JSON lines",
        "knoten export [-o FILE] [--data DIR]\n\n"
        "Writes every stored object, oldest first, one JSON object per line. The\n"
        "\"raw\" member holds the exact signed bytes (base64), so `knoten import`\n"
        "reproduces the same ids.\n\n"
        "  -o, --output FILE write to FILE instead of standard output\n" DATA_HELP },
    { "import", cmd_import, "verify and store objects from JSON lines",
        "knoten import [FILE] [--data DIR]\n\n"
        "Reads JSON lines as written by `knoten export` (standard input if no FILE),\n"
        "verifies every object and stores the valid ones. Reports each refused line\n"
        "with the reason, and a summary.\n" DATA_HELP },
    { NULL, NULL, NULL, NULL },
};

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int cli_help(const char *name)
{
    const cli_command *c = find_command(name);
    if (!c)
        return CLI_USAGE;
    printf("usage: %s\n", c->usage);
    return CLI_OK;
}

static void print_overview(FILE *f)
{
    fprintf(f,
        "knoten %s - federated exchange node for councils\n\n"
        "usage: knoten COMMAND [OPTIONS]\n\ncommands:\n",
        KN_VERSION);
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n`knoten COMMAND --help` explains a command.\n");
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("knoten: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage_error(const kn_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry `%s --help`.\n", cli->prog);
    va_end(ap);
    return CLI_USAGE;
}

int cli_common_option(kn_cli *cli, int opt, const char *arg, const char *cmd, int *exit_code)
{
    switch (opt) {
    case 'D':
        if (strlen(arg) >= sizeof cli->data_dir) {
            *exit_code = cli_usage_error(cli, "the --data path is too long");
            return 1;
        }
        strcpy(cli->data_dir, arg);
        cli->data_given = true;
        return 1;
    case 'h':
        *exit_code = cli_help(cmd);
        return 1;
    case '?':
        fprintf(stderr, "Try `%s --help`.\n", cli->prog);
        *exit_code = CLI_USAGE;
        return 1;
    default:
        return 0;
    }
}

int cli_getopt(kn_cli *cli, int argc, char **argv, const char *shortopts, const struct option *opts,
    const char *cmd, int *code)
{
    int opt;
    while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        *code = -1;
        if (!cli_common_option(cli, opt, optarg, cmd, code))
            return opt;
        if (*code >= 0)
            return CLI_STOP;
    }
    return -1;
}

int cli_open(kn_cli *cli, kn_datadir *dd)
{
    return cli_open_with(cli, dd, NULL);
}

void cli_stdin_prompt(const char *what)
{
    /* From a pipe the data just comes; at a terminal, nothing would say what is awaited. */
    if (isatty(STDIN_FILENO))
        fprintf(stderr,
            "knoten: reading %s from the terminal: paste or type it, then press "
            "Ctrl-D on a new line.\n",
            what);
}

int cli_datadir_fresh(const kn_cli *cli)
{
    char p[KN_PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/identity.key", cli->data_dir);
    if (stat(p, &st) == 0)
        return CLI_OK; /* a node: the caller opens it */
    if (errno == ENOTDIR)
        return cli_fail(
            "%s is not a directory; pass --data DIR with the node's directory.", cli->data_dir);
    if (errno == ENOENT) {
        snprintf(p, sizeof p, "%s/store/data.mdb", cli->data_dir);
        if (stat(p, &st) == 0)
            return cli_fail("%s holds a store but no identity.key (restored from a backup made "
                            "with --no-keys?).\nPut the node's identity.key and network.key "
                            "(0600) back into %s; `knoten run` or `knoten init` would give it a "
                            "new identity instead.",
                cli->data_dir, cli->data_dir);
        return CLI_OK;
    }
    if (errno == EACCES || errno == EPERM)
        return cli_fail("cannot read %s: permission denied.\nRun the command as the user that "
                        "owns it (e.g. `sudo -u knoten knoten ...` for the service's "
                        "/var/lib/knoten), or pass another --data DIR.",
            cli->data_dir);
    return cli_fail("cannot read %s: %s", cli->data_dir, strerror(errno));
}

int cli_open_with(kn_cli *cli, kn_datadir *dd, const kn_store_options *opt)
{
    if (!kn_datadir_exists(cli->data_dir)) {
        if (cli_datadir_fresh(cli) != CLI_OK)
            return CLI_FAIL;
        return cli_fail("there is no knoten node in %s.\n"
                        "Run `knoten init` to create one, or pass --data DIR.",
            cli->data_dir);
    }
    int rc = kn_datadir_open(dd, cli->data_dir, opt);
    switch (rc) {
    case 0:
        return CLI_OK;
    case KN_EPERM:
        return cli_fail("a key file in %s is readable by other users, or cannot be read.\n"
                        "Fix it with `chmod 600 %s/*.key` as the owner.",
            cli->data_dir, cli->data_dir);
    case KN_ESCHEMAVER:
        return cli_fail("the store in %s was written by a newer knoten (this knoten %s reads "
                        "store schema up to %d); install that version or a later one. Nothing "
                        "was changed.",
            cli->data_dir, KN_VERSION, KN_STORE_SCHEMA_VERSION);
    case KN_EBUSY:
        return cli_fail("the store in %s is in use by another process.", cli->data_dir);
    default:
        return cli_fail("cannot open the node in %s: %s", cli->data_dir, kn_strerror(rc));
    }
}

int cli_parse_id(const kn_cli *cli, const char *what, const char *s, uint8_t out[static 32])
{
    if (kn_hex_decode(out, 32, s, strlen(s)) < 0)
        return cli_usage_error(cli, "%s must be 64 hexadecimal digits, got \"%s\"", what, s);
    return CLI_OK;
}

/* True if s is 8 to 64 hexadecimal digits. */
static bool id_or_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n < CLI_ID_PREFIX_MIN || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

int cli_check_id_arg(const kn_cli *cli, const char *what, const char *s)
{
    if (id_or_prefix(s))
        return CLI_OK;
    return cli_usage_error(cli,
        "%s must be 64 hexadecimal digits, or the first %d or more of them as `knoten ls` "
        "shows them; got \"%s\"",
        what, CLI_ID_PREFIX_MIN, s);
}

typedef struct prefix_ctx {
    char want[65];
    size_t len;
    size_t hits;
    uint8_t id[KN_ID];
} prefix_ctx;

static int match_prefix(void *ctx, uint64_t created, const uint8_t id[KN_ID])
{
    prefix_ctx *c = ctx;
    char hex[2 * KN_ID + 1];
    (void)created;
    kn_hex_encode(hex, id, KN_ID);
    if (strncmp(hex, c->want, c->len) != 0)
        return 0;
    if (c->hits++ == 0)
        memcpy(c->id, id, KN_ID);
    return 0;
}

int cli_resolve_id(kn_datadir *dd, const char *s, uint8_t out[static 32])
{
    size_t n = strlen(s);
    if (n == 2 * KN_ID)
        return kn_hex_decode(out, KN_ID, s, n) == 0 ? CLI_OK : cli_fail("\"%s\" is no id", s);
    prefix_ctx c = { .len = n };
    for (size_t i = 0; i < n; i++) /* kn_hex_encode writes lower case */
        c.want[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
    kn_store_query q = { .index = KN_BY_TIME };
    int rc = kn_store_each_id(dd->store, &q, match_prefix, &c);
    if (rc < 0)
        return cli_fail("cannot read the store: %s", kn_strerror(rc));
    if (c.hits == 0)
        return cli_fail(
            "no object here has an id starting with %s; `knoten ls` lists what is here", s);
    if (c.hits > 1)
        return cli_fail("%zu objects have ids starting with %s; give more digits (`knoten ls "
                        "--json` shows whole ids)",
            c.hits, s);
    memcpy(out, c.id, KN_ID);
    return CLI_OK;
}

void cli_format_time(char *buf, size_t cap, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, cap, "%llu ms", (unsigned long long)ms);
}

int cli_object_error(const kn_object_draft *d, int rc)
{
    const char *type = kn_otype_name(d->type);
    size_t space = d->space ? strlen(d->space) : 0;
    if (space > KN_SPACE_MAX)
        return cli_fail(
            "the area name is %zu bytes long; it may have at most %d", space, KN_SPACE_MAX);
    if (space && !kn_utf8_valid(d->space, space))
        rc = KN_EUTF8;
    if (rc == KN_ETOOBIG)
        return cli_fail("the %s is too large: an object holds at most %d KiB (its text, title, "
                        "tags and the rest together); shorten it",
            type, KN_OBJECT_MAX / 1024);
    if (rc == KN_EUTF8)
        return cli_fail("the %s holds text that is not valid UTF-8 (typed or saved in another "
                        "encoding, such as Latin-1? `iconv -f latin1 -t utf-8` converts it)",
            type);
    return cli_fail("cannot create the %s: %s", type, kn_strerror(rc));
}

int cli_publish(kn_cli *cli, kn_datadir *dd, kn_object_draft *d)
{
    uint8_t *raw = NULL;
    size_t len;
    uint8_t id[KN_ID];
    char hex[2 * KN_ID + 1];
    (void)cli;
    int rc = kn_object_sign(d, dd->identity_sk, &raw, &len);
    if (rc < 0)
        return cli_object_error(d, rc);
    rc = kn_store_put(dd->store, raw, len, kn_env_now(cli->env), id);
    free(raw);
    if (rc < 0)
        return cli_fail("cannot store the %s: %s", kn_otype_name(d->type), kn_strerror(rc));
    kn_hex_encode(hex, id, KN_ID);
    if (rc == KN_PUT_PENDING)
        fprintf(stderr,
            "knoten: stored as pending: something it depends on is not here yet "
            "(see `knoten status`).\n");
    puts(hex);
    return CLI_OK;
}

/* Edit distance with swaps of neighbours (optimal string alignment), capped at 9. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 16 || m > 16)
        return 9;
    int d[17][17];
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* A mistyped command, or an option before the command: one line that says what to type. */
static int unknown_command(const char *arg)
{
    if (strcmp(arg, "--data") == 0 || strncmp(arg, "--data=", 7) == 0) {
        fprintf(stderr,
            "knoten: options come after the command, e.g. `knoten status --data "
            "DIR`.\n");
        return CLI_USAGE;
    }
    if (arg[0] == '-') {
        fprintf(stderr,
            "knoten: unknown option \"%.64s\"; options come after the command "
            "(`knoten COMMAND --help` lists them).\n",
            arg);
        return CLI_USAGE;
    }
    const char *near = NULL;
    int best = 3; /* at most two edits, and fewer than half the word */
    for (const cli_command *c = cli_commands; c->name; c++) {
        int d = distance(arg, c->name);
        if (d < best && 2 * (size_t)d < strlen(c->name)) {
            best = d;
            near = c->name;
        }
    }
    if (near)
        fprintf(
            stderr, "knoten: unknown command \"%.64s\"; did you mean `knoten %s`?\n", arg, near);
    else
        fprintf(stderr, "knoten: unknown command \"%.64s\".\n", arg);
    fprintf(stderr, "`knoten --help` lists every command.\n");
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (kn_crypto_init() < 0) {
        fprintf(stderr, "knoten: cannot initialise libsodium\n");
        return CLI_FAIL;
    }
    if (argc < 2) {
        print_overview(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && find_command(argv[2]))
            return cli_help(argv[2]);
        print_overview(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("knoten %s (store schema %d)\n", KN_VERSION, KN_STORE_SCHEMA_VERSION);
        return CLI_OK;
    }
    const cli_command *c = find_command(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    char prog[64];
    snprintf(prog, sizeof prog, "knoten %s", c->name);
    kn_cli cli = { .env = kn_env_system(), .prog = prog };
    if (kn_datadir_default(cli.data_dir) < 0) {
        fprintf(stderr, "knoten: no default data directory (HOME is not set); pass --data DIR\n");
        return CLI_USAGE;
    }
    argv[1] = prog; /* getopt names the program in its messages */
    return c->run(&cli, argc - 1, argv + 1);
}
