/*
 * The texts of the web pages in German (the default) and English. One
 * X-macro table, so a text missing in one language is a compile error, not
 * an empty label. Callers: http_pages.c (tr()).
 */
#ifndef KN_HTTP_I18N_H
#define KN_HTTP_I18N_H

/* X(id, German, English) */
#define KN_TEXTS(X)                                                                                \
    X(T_APP, "knoten", "knoten")                                                                   \
    X(T_SKIP, "Zum Inhalt springen", "Skip to content")                                            \
    X(T_START, "Start", "Home")                                                                    \
    X(T_AREAS, "Bereiche", "Areas")                                                                \
    X(T_AREA, "Bereich", "Area")                                                                   \
    X(T_DOCS, "Dokumente", "Documents")                                                            \
    X(T_FORUM, "Forum", "Forum")                                                                   \
    X(T_LINKS, "Links", "Links")                                                                   \
    X(T_POLLS, "Umfragen", "Polls")                                                                \
    X(T_EVENTS, "Termine", "Events")                                                               \
    X(T_MESSAGES, "Nachrichten", "Messages")                                                       \
    X(T_SEARCH, "Suche", "Search")                                                                 \
    X(T_ADMIN, "Verwaltung", "Administration")                                                     \
    X(T_LOGIN, "Anmelden", "Log in")                                                               \
    X(T_LOGOUT, "Abmelden", "Log out")                                                             \
    X(T_LOGIN_NAME, "Benutzername", "User name")                                                   \
    X(T_PASSWORD, "Passwort", "Password")                                                          \
    X(T_PASSWORD2, "Passwort wiederholen", "Repeat the password")                                  \
    X(T_LOGIN_FAILED, "Benutzername oder Passwort ist falsch.", "Wrong user name or password.")    \
    X(T_LOGIN_LIMITED,                                                                             \
        "Zu viele Fehlversuche. Bitte warten Sie 15 Minuten oder wenden Sie sich an die "          \
        "IT-Administration.",                                                                      \
        "Too many failed attempts. Wait 15 minutes or ask your IT administration.")                \
    X(T_LOGIN_NOKEY,                                                                               \
        "Dieser Knoten hat Ihren Benutzerschlüssel nicht. Bitte wenden Sie sich an die "          \
        "IT-Administration.",                                                                      \
        "This node does not hold your user key. Please ask your IT administration.")               \
    X(T_ACTIVATE, "Zugang aktivieren", "Activate your account")                                    \
    X(T_ACTIVATE_INTRO,                                                                            \
        "Wählen Sie ein Passwort (mindestens 8 Zeichen). Der Link funktioniert nur einmal.",       \
        "Choose a password (at least 8 characters). The link works only once.")                    \
    X(T_ACTIVATE_BAD,                                                                              \
        "Dieser Aktivierungslink ist ungültig oder abgelaufen. Bitten Sie die "                   \
        "IT-Administration um einen neuen.",                                                       \
        "This activation link is invalid or has expired. Ask your IT administration for a new "    \
        "one.")                                                                                    \
    X(T_PW_MISMATCH, "Die Passwörter stimmen nicht überein.", "The passwords do not match.")       \
    X(T_PW_WEAK, "Das Passwort muss mindestens 8 Zeichen lang sein.",                              \
        "The password must be at least 8 characters long.")                                        \
    X(T_NEW_SINCE, "Neu seit Ihrem letzten Besuch", "New since your last visit")                   \
    X(T_NOTHING_NEW, "Nichts Neues seit Ihrem letzten Besuch.",                                    \
        "Nothing new since your last visit.")                                                      \
    X(T_RECENT, "Zuletzt geteilt", "Recently shared")                                              \
    X(T_WELCOME, "Willkommen", "Welcome")                                                          \
    X(T_THREADS, "Diskussionen", "Threads")                                                        \
    X(T_NEW_THREAD, "Neue Diskussion", "New thread")                                               \
    X(T_TITLE, "Titel", "Title")                                                                   \
    X(T_TEXT, "Text (Markdown)", "Text (Markdown)")                                                \
    X(T_TAGS, "Schlagwörter (mit Komma getrennt)", "Tags (comma separated)")                       \
    X(T_PUBLISH, "Veröffentlichen", "Publish")                                                     \
    X(T_PREVIEW, "Vorschau", "Preview")                                                            \
    X(T_REPLY, "Antworten", "Reply")                                                               \
    X(T_REPLIES, "Antworten", "Replies")                                                           \
    X(T_YOUR_REPLY, "Ihre Antwort (Markdown)", "Your reply (Markdown)")                            \
    X(T_NO_THREADS, "Noch keine Diskussionen.", "No threads yet.")                                 \
    X(T_NO_LINKS, "Noch keine Links.", "No links yet.")                                            \
    X(T_NO_REPLIES, "Noch keine Antworten.", "No replies yet.")                                    \
    X(T_NEW_LINK, "Link teilen", "Share a link")                                                   \
    X(T_URL, "Adresse (http:// oder https://)", "Address (http:// or https://)")                   \
    X(T_DESCRIPTION, "Beschreibung", "Description")                                                \
    X(T_BY, "von", "by")                                                                           \
    X(T_RETRACT, "Zurückziehen", "Retract")                                                        \
    X(T_RETRACT_CONFIRM, "Auf allen Knoten entfernen", "Remove on every node")                     \
    X(T_RETRACTED, "Zurückgezogen.", "Retracted.")                                                 \
    X(T_NOT_FOUND, "Nicht gefunden.", "Not found.")                                                \
    X(T_ERROR, "Fehler", "Error")                                                                  \
    X(T_BACK, "Zurück", "Back")                                                                    \
    X(T_PEERS, "Verbundene Knoten", "Peers")                                                       \
    X(T_MEMBERS, "Mitglieder", "Members")                                                          \
    X(T_INVITES, "Einladungen", "Invites")                                                         \
    X(T_USERS, "Benutzer", "Users")                                                                \
    X(T_SYNC, "Abgleich", "Sync")                                                                  \
    X(T_ADDRESS, "Adresse", "Address")                                                             \
    X(T_STATE, "Zustand", "State")                                                                 \
    X(T_NAME, "Name", "Name")                                                                      \
    X(T_ROLE, "Funktion", "Role")                                                                  \
    X(T_COUNCIL, "Kommune", "Council")                                                             \
    X(T_SINCE, "seit", "since")                                                                    \
    X(T_OBJECTS_IN, "Objekte empfangen", "Objects received")                                       \
    X(T_OBJECTS_OUT, "Objekte gesendet", "Objects sent")                                           \
    X(T_LAST_SYNC, "Letzter Abgleich", "Last reconciliation")                                      \
    X(T_NEVER, "nie", "never")                                                                     \
    X(T_NOTE, "Notiz (z. B. Name der Kommune)", "Note (e.g. the council's name)")                  \
    X(T_INVITE_CREATE, "Einladung erstellen", "Create an invite")                                  \
    X(T_INVITE_CODE, "Einladungscode (nur jetzt sichtbar; per persönlicher E-Mail senden):",       \
        "Invite code (shown only now; send it in a personal e-mail):")                             \
    X(T_WITHDRAW, "Zurückziehen", "Withdraw")                                                      \
    X(T_EXPERTISE, "Fachgebiete", "Expertise")                                                     \
    X(T_LANGUAGES, "Sprachen", "Languages")                                                        \
    X(T_ACCOUNTS, "Web-Zugänge dieses Knotens", "Web accounts of this node")                       \
    X(T_ACCOUNTS_HINT, "Neue Zugänge legt die IT-Administration an: knoten user add --login NAME", \
        "New accounts are created by IT administration: knoten user add --login NAME")             \
    X(T_LANG_SWITCH, "English", "Deutsch")                                                         \
    X(T_OBJECTS, "Einträge", "Entries")                                                            \
    X(T_NO_AREAS, "Noch keine Bereiche.", "No areas yet.")                                         \
    X(T_MORE, "Ältere Einträge", "Older entries")                                                  \
    X(T_TYPE_thread, "Diskussion", "Thread")                                                       \
    X(T_TYPE_post, "Antwort", "Reply")                                                             \
    X(T_TYPE_link, "Link", "Link")                                                                 \
    X(T_TYPE_doc, "Dokument", "Document")                                                          \
    X(T_TYPE_poll, "Umfrage", "Poll")                                                              \
    X(T_TYPE_event, "Termin", "Event")                                                             \
    X(T_TYPE_other, "Eintrag", "Entry")                                                            \
    X(T_FORBIDDEN, "Dafür fehlt Ihnen die Berechtigung.", "You are not allowed to do this.")       \
    X(T_CSRF,                                                                                      \
        "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es noch "    \
        "einmal.",                                                                                 \
        "The form has expired. Reload the page and try again.")                                    \
    X(T_ROLE_ADMIN, "Administration", "Administrator")                                             \
    X(T_ROLE_STAFF, "Mitarbeitende", "Staff")                                                      \
    X(T_SPACE_HINT, "z. B. Vergaberecht", "e.g. Vergaberecht")                                     \
    X(T_DIRECTORY, "Expertenverzeichnis", "Expert directory")                                      \
    X(T_SEARCH_PEOPLE, "Name, Funktion oder Fachgebiet", "Name, role or expertise")                \
    X(T_FIND, "Suchen", "Find")                                                                    \
    X(T_KIND, "Art", "Kind")                                                                       \
    X(T_ALL, "alle", "all")                                                                        \
    X(T_KIND_letter, "Schreiben", "Letter")                                                        \
    X(T_KIND_checklist, "Checkliste", "Checklist")                                                 \
    X(T_KIND_form, "Formular", "Form")                                                             \
    X(T_KIND_instruction, "Dienstanweisung", "Instruction")                                        \
    X(T_KIND_template, "Vorlage", "Template")                                                      \
    X(T_KIND_other, "Sonstiges", "Other")                                                          \
    X(T_FILTER, "Filtern", "Filter")                                                               \
    X(T_DOC_UPLOAD, "Dokument hochladen", "Upload a document")                                     \
    X(T_NO_DOCS, "Keine Dokumente gefunden.", "No documents found.")                               \
    X(T_FILES, "Dateien", "Files")                                                                 \
    X(T_FILES_MORE, "Weitere Dateien", "More files")                                               \
    X(T_VERSIONS, "Versionen", "Versions")                                                         \
    X(T_FILE_HERE, "auf diesem Knoten", "on this node")                                            \
    X(T_FILE_REFUSED, "nicht gespeichert (Grenze dieses Knotens)", "not kept (this node's limit)") \
    X(T_FILE_FETCHING, "wird geladen: Teile hier", "being fetched: parts here")                    \
    X(T_DOC_PUBLISHED, "Das Dokument ist veröffentlicht.", "The document is published.")           \
    X(T_DOC_RETRACTED, "Das Dokument ist zurückgezogen.", "The document is retracted.")            \
    X(T_OLD_VERSION, "Dies ist eine ältere Version.", "This is an older version.")                 \
    X(T_NEWEST_VERSION, "Zur neuesten Version", "Go to the newest version")                        \
    X(T_THIS_VERSION, "diese Version", "this version")                                             \
    X(T_NEW_VERSION, "Neue Version hochladen", "Upload a new version")                             \
    X(T_RETRACT_ALL, "Dokument zurückziehen (alle Versionen)",                                     \
        "Retract the document (all versions)")                                                     \
    X(T_LANGUAGE, "Sprache", "Language")                                                           \
    X(T_LICENCE, "Lizenz", "Licence")                                                              \
    X(T_VALID_FROM, "Gültig ab", "Valid from")                                                     \
    X(T_VALID_UNTIL, "Gültig bis", "Valid until")                                                  \
    X(T_TAGS_SHORT, "Schlagwörter", "Tags")                                                        \
    X(T_SIZE, "Größe", "Size")                                                                     \
    X(T_TYPE, "Typ", "Type")                                                                       \
    X(T_DESCRIPTION_MD, "Beschreibung (Markdown)", "Description (Markdown)")                       \
    X(T_KEEP_FILES, "Dateien der vorigen Version behalten", "Keep files of the previous version")  \
    X(T_PROGRESS, "Fortschritt", "Progress")                                                       \
    X(T_NEEDS_SCRIPT,                                                                              \
        "Zum Hochladen wird JavaScript benötigt (die Datei geht in Teilen an den Knoten). Bitte " \
        "JavaScript erlauben oder `knoten doc publish` verwenden.",                                \
        "Uploading needs JavaScript (the file goes to the node in pieces). Allow JavaScript or "   \
        "use `knoten doc publish`.")                                                               \
    X(T_UP_SENDING, "Wird hochgeladen", "Uploading")                                               \
    X(T_UP_STORING, "Wird gespeichert", "Storing")                                                 \
    X(T_UP_PUBLISHING, "Wird veröffentlicht", "Publishing")                                        \
    X(T_UP_FAILED, "Hochladen fehlgeschlagen", "Upload failed")

enum kn_text {
#define KN_TEXT_ENUM(id, de, en) id,
    KN_TEXTS(KN_TEXT_ENUM)
#undef KN_TEXT_ENUM
        T_COUNT
};

#endif
