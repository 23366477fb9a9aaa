/*
 * The texts of the web pages in German (the default) and English. One
 * X-macro table, so a text missing in one language is a compile error, not
 * an empty label. Callers: http_pages.c (tr()).
 */
#ifndef KN_HTTP_I18N_H
#define KN_HTTP_I18N_H

/* X(id, German, English) */
#define KN_TEXTS(X)                                                                                    \
    X(T_APP, "knoten", "knoten")                                                                       \
    X(T_SKIP, "Zum Inhalt springen", "Skip to content")                                                \
    X(T_START, "Start", "Home")                                                                        \
    X(T_AREAS, "Bereiche", "Areas")                                                                    \
    X(T_AREA, "Bereich", "Area")                                                                       \
    X(T_DOCS, "Dokumente", "Documents")                                                                \
    X(T_FORUM, "Forum", "Forum")                                                                       \
    X(T_LINKS, "Links", "Links")                                                                       \
    X(T_POLLS, "Umfragen", "Polls")                                                                    \
    X(T_EVENTS, "Termine", "Events")                                                                   \
    X(T_MESSAGES, "Nachrichten", "Messages")                                                           \
    X(T_SEARCH, "Suche", "Search")                                                                     \
    X(T_ADMIN, "Verwaltung", "Administration")                                                         \
    X(T_LOGIN, "Anmelden", "Log in")                                                                   \
    X(T_LOGOUT, "Abmelden", "Log out")                                                                 \
    X(T_LOGIN_NAME, "Benutzername", "User name")                                                       \
    X(T_PASSWORD, "Passwort", "Password")                                                              \
    X(T_PASSWORD2, "Passwort wiederholen", "Repeat the password")                                      \
    X(T_LOGIN_FAILED, "Benutzername oder Passwort ist falsch.", "Wrong user name or password.")        \
    X(T_LOGIN_BUSY,                                                                                    \
        "Der Knoten prüft gerade viele Anmeldungen oder wird beendet. Bitte versuchen Sie es "        \
        "gleich noch einmal.",                                                                         \
        "The node is busy checking other logins or is shutting down. Try again in a moment.")          \
    X(T_LOGIN_LIMITED,                                                                                 \
        "Zu viele Fehlversuche. Bitte warten Sie 15 Minuten oder wenden Sie sich an die "              \
        "IT-Administration.",                                                                          \
        "Too many failed attempts. Wait 15 minutes or ask your IT administration.")                    \
    X(T_LOGIN_NOKEY,                                                                                   \
        "Dieser Knoten hat Ihren Benutzerschlüssel nicht. Bitte wenden Sie sich an die "              \
        "IT-Administration.",                                                                          \
        "This node does not hold your user key. Please ask your IT administration.")                   \
    X(T_ACTIVATE, "Zugang aktivieren", "Activate your account")                                        \
    X(T_ACTIVATE_INTRO,                                                                                \
        "Wählen Sie ein Passwort (mindestens 8 Zeichen). Der Link funktioniert nur einmal.",           \
        "Choose a password (at least 8 characters). The link works only once.")                        \
    X(T_ACTIVATE_BAD,                                                                                  \
        "Dieser Aktivierungslink ist ungültig oder abgelaufen. Bitten Sie die "                       \
        "IT-Administration um einen neuen.",                                                           \
        "This activation link is invalid or has expired. Ask your IT administration for a new "        \
        "one.")                                                                                        \
    X(T_PW_MISMATCH, "Die Passwörter stimmen nicht überein.", "The passwords do not match.")           \
    X(T_PW_WEAK, "Das Passwort muss mindestens 8 Zeichen lang sein.",                                  \
        "The password must be at least 8 characters long.")                                            \
    X(T_NEW_SINCE, "Neu seit Ihrem letzten Besuch", "New since your last visit")                       \
    X(T_NOTHING_NEW, "Nichts Neues seit Ihrem letzten Besuch.",                                        \
        "Nothing new since your last visit.")                                                          \
    X(T_RECENT, "Zuletzt geteilt", "Recently shared")                                                  \
    X(T_WELCOME, "Willkommen", "Welcome")                                                              \
    X(T_THREADS, "Diskussionen", "Threads")                                                            \
    X(T_NEW_THREAD, "Neue Diskussion", "New thread")                                                   \
    X(T_TITLE, "Titel", "Title")                                                                       \
    X(T_TEXT, "Text (Markdown)", "Text (Markdown)")                                                    \
    X(T_TAGS, "Schlagwörter (mit Komma getrennt)", "Tags (comma separated)")                           \
    X(T_PUBLISH, "Veröffentlichen", "Publish")                                                         \
    X(T_PREVIEW, "Vorschau", "Preview")                                                                \
    X(T_REPLY, "Antworten", "Reply")                                                                   \
    X(T_REPLIES, "Antworten", "Replies")                                                               \
    X(T_YOUR_REPLY, "Ihre Antwort (Markdown)", "Your reply (Markdown)")                                \
    X(T_NO_THREADS, "Noch keine Diskussionen.", "No threads yet.")                                     \
    X(T_NO_LINKS, "Noch keine Links.", "No links yet.")                                                \
    X(T_NO_REPLIES, "Noch keine Antworten.", "No replies yet.")                                        \
    X(T_NEW_LINK, "Link teilen", "Share a link")                                                       \
    X(T_URL, "Adresse (http:// oder https://)", "Address (http:// or https://)")                       \
    X(T_DESCRIPTION, "Beschreibung", "Description")                                                    \
    X(T_BY, "von", "by")                                                                               \
    X(T_RETRACT, "Zurückziehen", "Withdraw")                                                           \
    X(T_RETRACTED, "Zurückgezogen.", "Retracted.")                                                     \
    X(T_NOT_FOUND, "Nicht gefunden.", "Not found.")                                                    \
    X(T_ERROR, "Fehler", "Error")                                                                      \
    X(T_BACK, "Zurück", "Back")                                                                        \
    X(T_PEERS, "Verbundene Knoten", "Peers")                                                           \
    X(T_MEMBERS, "Mitglieder", "Members")                                                              \
    X(T_INVITES, "Einladungen", "Invites")                                                             \
    X(T_USERS, "Benutzer", "Users")                                                                    \
    X(T_SYNC, "Abgleich", "Sync")                                                                      \
    X(T_ADDRESS, "Adresse", "Address")                                                                 \
    X(T_STATE, "Zustand", "State")                                                                     \
    X(T_NAME, "Name", "Name")                                                                          \
    X(T_ROLE, "Funktion", "Role")                                                                      \
    X(T_COUNCIL, "Kommune", "Council")                                                                 \
    X(T_SINCE, "seit", "since")                                                                        \
    X(T_OBJECTS_IN, "Objekte empfangen", "Objects received")                                           \
    X(T_OBJECTS_OUT, "Objekte gesendet", "Objects sent")                                               \
    X(T_LAST_SYNC, "Letzter Abgleich", "Last reconciliation")                                          \
    X(T_NEVER, "nie", "never")                                                                         \
    X(T_NOTE, "Notiz (z. B. Name der Kommune)", "Note (e.g. the council's name)")                      \
    X(T_INVITE_CREATE, "Einladung erstellen", "Create an invite")                                      \
    X(T_INVITE_CODE, "Einladungscode (nur jetzt sichtbar; per persönlicher E-Mail senden):",           \
        "Invite code (shown only now; send it in a personal e-mail):")                                 \
    X(T_WITHDRAW, "Zurückziehen", "Withdraw")                                                          \
    X(T_EXPERTISE, "Fachgebiete", "Expertise")                                                         \
    X(T_LANGUAGES, "Sprachen", "Languages")                                                            \
    X(T_ACCOUNTS, "Web-Zugänge dieses Knotens", "Web accounts of this node")                           \
    X(T_ACCOUNTS_HINT, "Neue Zugänge legt die IT-Administration an: knoten user add --login NAME",     \
        "New accounts are created by IT administration: knoten user add --login NAME")                 \
    X(T_LANG_SWITCH, "English", "Deutsch")                                                             \
    X(T_OBJECTS, "Einträge", "entries")                                                                \
    X(T_NO_AREAS, "Noch keine Bereiche.", "No areas yet.")                                             \
    X(T_MORE, "Ältere Einträge", "Older entries")                                                      \
    X(T_TYPE_thread, "Diskussion", "Thread")                                                           \
    X(T_TYPE_post, "Antwort", "Reply")                                                                 \
    X(T_TYPE_link, "Link", "Link")                                                                     \
    X(T_TYPE_doc, "Dokument", "Document")                                                              \
    X(T_TYPE_poll, "Umfrage", "Poll")                                                                  \
    X(T_TYPE_event, "Termin", "Event")                                                                 \
    X(T_TYPE_other, "Eintrag", "Entry")                                                                \
    X(T_FORBIDDEN, "Dafür fehlt Ihnen die Berechtigung.", "You are not allowed to do this.")           \
    X(T_CSRF,                                                                                          \
        "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es noch "        \
        "einmal.",                                                                                     \
        "The form has expired. Reload the page and try again.")                                        \
    X(T_ROLE_ADMIN, "Administration", "Administrator")                                                 \
    X(T_ROLE_STAFF, "Mitarbeitende", "Staff")                                                          \
    X(T_SPACE_HINT, "z. B. Vergaberecht", "e.g. Vergaberecht")                                         \
    X(T_DIRECTORY, "Expertenverzeichnis", "Expert directory")                                          \
    X(T_SEARCH_PEOPLE, "Name, Kommune, Funktion oder Fachgebiet",                                      \
        "Name, council, role or expertise")                                                            \
    X(T_FIND, "Suchen", "Find")                                                                        \
    X(T_KIND, "Art", "Kind")                                                                           \
    X(T_ALL, "alle", "all")                                                                            \
    X(T_KIND_letter, "Schreiben", "Letter")                                                            \
    X(T_KIND_checklist, "Checkliste", "Checklist")                                                     \
    X(T_KIND_form, "Formular", "Form")                                                                 \
    X(T_KIND_instruction, "Dienstanweisung", "Instruction")                                            \
    X(T_KIND_template, "Vorlage", "Template")                                                          \
    X(T_KIND_other, "Sonstiges", "Other")                                                              \
    X(T_FILTER, "Filtern", "Filter")                                                                   \
    X(T_DOC_UPLOAD, "Dokument hochladen", "Upload a document")                                         \
    X(T_NO_DOCS, "Keine Dokumente gefunden.", "No documents found.")                                   \
    X(T_FILES, "Dateien", "Files")                                                                     \
    X(T_FILES_MORE, "Weitere Dateien", "More files")                                                   \
    X(T_VERSIONS, "Versionen", "Versions")                                                             \
    X(T_FILE_HERE, "auf diesem Knoten", "on this node")                                                \
    X(T_FILE_REFUSED, "nicht gespeichert (Grenze dieses Knotens)", "not kept (this node's limit)")     \
    X(T_FILE_FETCHING, "wird geladen: Teile hier", "being fetched: parts here")                        \
    X(T_DOC_PUBLISHED, "Das Dokument ist veröffentlicht.", "The document is published.")               \
    X(T_DOC_RETRACTED, "Das Dokument ist zurückgezogen.", "The document is retracted.")                \
    X(T_OLD_VERSION, "Dies ist eine ältere Version.", "This is an older version.")                     \
    X(T_NEWEST_VERSION, "Zur neuesten Version", "Go to the newest version")                            \
    X(T_THIS_VERSION, "diese Version", "this version")                                                 \
    X(T_NEW_VERSION, "Neue Version hochladen", "Upload a new version")                                 \
    X(T_RETRACT_ALL, "Dokument zurückziehen (alle Versionen)",                                         \
        "Retract the document (all versions)")                                                         \
    X(T_LANGUAGE, "Sprache", "Language")                                                               \
    X(T_LICENCE, "Lizenz", "Licence")                                                                  \
    X(T_VALID_FROM, "Gültig ab", "Valid from")                                                         \
    X(T_VALID_UNTIL, "Gültig bis", "Valid until")                                                      \
    X(T_TAGS_SHORT, "Schlagwörter", "Tags")                                                            \
    X(T_SIZE, "Größe", "Size")                                                                         \
    X(T_TYPE, "Typ", "Type")                                                                           \
    X(T_DESCRIPTION_MD, "Beschreibung (Markdown)", "Description (Markdown)")                           \
    X(T_KEEP_FILES, "Dateien der vorigen Version behalten", "Keep files of the previous version")      \
    X(T_PROGRESS, "Fortschritt", "Progress")                                                           \
    X(T_NEEDS_SCRIPT,                                                                                  \
        "Zum Hochladen wird JavaScript benötigt (die Datei geht in Teilen an den Knoten). Bitte "     \
        "JavaScript erlauben oder `knoten doc publish` verwenden.",                                    \
        "Uploading needs JavaScript (the file goes to the node in pieces). Allow JavaScript or "       \
        "use `knoten doc publish`.")                                                                   \
    X(T_UP_SENDING, "Wird hochgeladen", "Uploading")                                                   \
    X(T_UP_STORING, "Wird gespeichert", "Storing")                                                     \
    X(T_UP_PUBLISHING, "Wird veröffentlicht", "Publishing")                                            \
    X(T_UP_RECONNECTING,                                                                               \
        "Verbindung zum Knoten unterbrochen (Neustart?). Das Hochladen geht weiter, sobald er "        \
        "wieder erreichbar ist",                                                                       \
        "The connection to the node was lost (a restart?). The upload continues as soon as it "        \
        "is back")                                                                                     \
    X(T_UP_LOST,                                                                                       \
        "Der Knoten hat diesen Upload nicht mehr (abgelaufen oder abgebrochen). Bitte wählen "        \
        "Sie die Datei erneut und laden Sie sie noch einmal hoch",                                     \
        "The node no longer has this upload (it expired or was cancelled). Choose the file and "       \
        "upload it again")                                                                             \
    X(T_POLL_MISSING, "Bereich und Frage sind nötig.", "An area and a question are required.")         \
    X(T_POLL_OPTIONS_BAD,                                                                              \
        "Eine Umfrage hat 2 bis 32 Antworten (eine je Zeile, höchstens 200 Zeichen).",                 \
        "A poll has 2 to 32 options (one per line, at most 200 characters).")                          \
    X(T_POLL_DEADLINE_BAD, "Der Abstimmungsschluss muss in der Zukunft liegen.",                       \
        "The deadline must be in the future.")                                                         \
    X(T_VOTE_BAD_CHOICE, "Diese Antwort gibt es in der Umfrage nicht.",                                \
        "The poll has no such option.")                                                                \
    X(T_VOTE_NONE, "Bitte wählen Sie eine Antwort.", "Choose an option.")                              \
    X(T_VOTE_ONE, "In dieser Umfrage ist nur eine Antwort möglich.",                                   \
        "This poll takes one option only.")                                                            \
    X(T_VOTE_CLOSED, "Die Umfrage ist geschlossen; Stimmen werden nicht mehr angenommen.",             \
        "The poll is closed; votes are no longer accepted.")                                           \
    X(T_EVENT_MISSING, "Bereich und Titel sind nötig.", "An area and a title are required.")           \
    X(T_EVENT_END_BAD, "Das Ende liegt vor dem Beginn.", "The end is before the start.")               \
    X(T_EVENT_WHERE, "Bitte einen Ort oder einen Online-Link angeben.",                                \
        "Give a place or an online link.")                                                             \
    X(T_RSVP_BAD, "Antwort ist ja, nein oder vielleicht.", "The answer is yes, no or maybe.")          \
    X(T_POLL_NEW, "Neue Umfrage", "New poll")                                                          \
    X(T_POLL_OPEN, "offen", "open")                                                                    \
    X(T_POLL_CLOSED, "geschlossen", "closed")                                                          \
    X(T_UNTIL, "bis", "until")                                                                         \
    X(T_COUNCILS, "Kommunen", "councils")                                                              \
    X(T_VOTERS, "Stimmen", "votes")                                                                    \
    X(T_NO_POLLS, "Noch keine Umfragen.", "No polls yet.")                                             \
    X(T_QUESTION, "Frage", "Question")                                                                 \
    X(T_OPTIONS_LINES, "Antworten (eine je Zeile)", "Options (one per line)")                          \
    X(T_MULTIPLE, "Mehrere Antworten erlauben", "Allow several options")                               \
    X(T_COUNTING, "Gezählt wird", "Counting")                                                          \
    X(T_COUNT_USER, "eine Stimme je Person", "one vote per person")                                    \
    X(T_COUNT_COUNCIL, "eine Antwort je Kommune", "one answer per council")                            \
    X(T_DEADLINE_DATE, "Abstimmung bis (einschließlich)", "Voting until (inclusive)")                  \
    X(T_SHOW_EARLY, "Zwischenergebnisse zeigen", "Show results before the deadline")                   \
    X(T_VOTED, "Ihre Stimme ist gespeichert.", "Your vote is saved.")                                  \
    X(T_DEADLINE, "Abstimmung bis", "Voting until")                                                    \
    X(T_COUNCIL_VOTE, "Antwort Ihrer Kommune", "Your council's answer")                                \
    X(T_YOUR_VOTE, "Ihre Stimme", "Your vote")                                                         \
    X(T_CHOOSE_SEVERAL, "Wählen Sie eine oder mehrere Antworten", "Choose one or more options")        \
    X(T_CHOOSE_ONE, "Wählen Sie eine Antwort", "Choose one option")                                    \
    X(T_VOTE_CHANGE, "Stimme ändern", "Change my vote")                                                \
    X(T_VOTE, "Abstimmen", "Vote")                                                                     \
    X(T_RESULTS, "Ergebnis", "Results")                                                                \
    X(T_RESULTS_LATER, "Das Ergebnis wird nach dem Abstimmungsschluss gezeigt:",                       \
        "The results are shown after the deadline:")                                                   \
    X(T_OPTION, "Antwort", "Option")                                                                   \
    X(T_SHARE, "Anteil", "Share")                                                                      \
    X(T_PER_COUNCIL, "Nach Kommunen", "Per council")                                                   \
    X(T_NO_VOTES, "Noch keine Stimmen.", "No votes yet.")                                              \
    X(T_ANSWER, "Antwort", "Answer")                                                                   \
    X(T_ANSWERED_BY, "abgegeben von", "given by")                                                      \
    X(T_EVENT_NEW, "Neuer Termin", "New event")                                                        \
    X(T_EVENT_EDIT, "Termin bearbeiten", "Edit event")                                                 \
    X(T_EVENT_SAVE, "Neue Fassung speichern", "Save the new version")                                  \
    X(T_EDIT_NOT_AUTHOR,                                                                               \
        "Nur wer den Eintrag eingestellt hat, kann ihn bearbeiten oder zurückziehen.",                 \
        "Only the person who published this can edit or retract it.")                                  \
    X(T_EDIT_STALE,                                                                                    \
        "Das wurde inzwischen geändert. Laden Sie die Seite neu und bearbeiten Sie die "              \
        "neueste Fassung.",                                                                            \
        "This was changed meanwhile. Reload the page and edit the newest version.")                    \
    X(T_EDIT_SAME_AREA, "Eine neue Fassung bleibt im Bereich der alten.",                              \
        "A new version stays in the area of the one it replaces.")                                     \
    X(T_EDIT_SAME_THREAD,                                                                              \
        "Eine neue Fassung einer Antwort bleibt in ihrer Diskussion an ihrer Stelle.",                 \
        "A new version of a reply stays in its thread and in its place.")                              \
    X(T_EDIT, "Bearbeiten", "Edit")                                                                    \
    X(T_EDIT_THREAD, "Diskussion bearbeiten", "Edit thread")                                           \
    X(T_EDIT_POST, "Antwort bearbeiten", "Edit reply")                                                 \
    X(T_EDIT_LINK, "Link bearbeiten", "Edit link")                                                     \
    X(T_RETRACT_HEAD, "Zurückziehen bestätigen", "Confirm the withdrawal")                             \
    X(T_RETRACT_WHAT, "Sie ziehen diesen Eintrag zurück:", "You are withdrawing this entry:")          \
    X(T_RETRACT_WARN,                                                                                  \
        "Er wird auf den Knoten aller Kommunen im Verbund zurückgenommen, mit jeder früheren "       \
        "Version. Das lässt sich nicht rückgängig machen.",                                            \
        "It is taken back on every council's node in the federation, including every earlier "         \
        "version. This cannot be undone.")                                                             \
    X(T_RETRACT_REASON, "Grund (freiwillig; geht mit an alle Kommunen)",                               \
        "Reason (optional; it goes to every council too)")                                             \
    X(T_RETRACT_TEXT, "Anfang des Textes", "Start of the text")                                        \
    X(T_CANCEL, "Abbrechen", "Cancel")                                                                 \
    X(T_RETRACT_UNCONFIRMED,                                                                           \
        "Nichts wurde zurückgezogen: Das Zurückziehen muss erst bestätigt werden.",                    \
        "Nothing was withdrawn: a withdrawal has to be confirmed first.")                              \
    X(T_RETRACT_GO_CONFIRM, "Zur Bestätigung", "Go to the confirmation")                               \
    X(T_ICS_AREA, "Kalender dieses Bereichs (.ics)", "Calendar of this area (.ics)")                   \
    X(T_MONTH, "Monat", "Month")                                                                       \
    X(T_UPCOMING, "Nächste Termine", "Upcoming events")                                                \
    X(T_NO_EVENTS, "Keine anstehenden Termine.", "No upcoming events.")                                \
    X(T_START_TIME, "Beginn", "Start")                                                                 \
    X(T_END_TIME, "Ende", "End")                                                                       \
    X(T_TIMEZONE, "Zeitzone", "Time zone")                                                             \
    X(T_PLACE, "Ort", "Place")                                                                         \
    X(T_ONLINE_LINK, "Online-Link (https://…)", "Online link (https://…)")                             \
    X(T_CAPACITY, "Plätze", "Places")                                                                  \
    X(T_CONTACT, "Kontakt", "Contact")                                                                 \
    X(T_RSVP_SAVED, "Ihre Antwort ist gespeichert.", "Your answer is saved.")                          \
    X(T_WHEN, "Wann", "When")                                                                          \
    X(T_ICS, "In den Kalender (.ics)", "Add to calendar (.ics)")                                       \
    X(T_RSVP, "Teilnahme", "Attendance")                                                               \
    X(T_RSVP_YES, "Ja", "Yes")                                                                         \
    X(T_RSVP_MAYBE, "Vielleicht", "Maybe")                                                             \
    X(T_RSVP_NO, "Nein", "No")                                                                         \
    X(T_RSVP_YOURS, "Nehmen Sie teil?", "Will you attend?")                                            \
    X(T_RSVP_SEND, "Antwort senden", "Send my answer")                                                 \
    X(T_MSG_TO_BAD, "Diese Person gibt es im Netzwerk nicht (mehr).",                                  \
        "There is no such person in the network (any more).")                                          \
    X(T_MSG_BODY_BAD, "Eine Nachricht hat 1 bis 32.000 Zeichen, ein Betreff höchstens 200.",           \
        "A message has 1 to 32,000 characters, a subject at most 200.")                                \
    X(T_MSG_TO, "An", "To")                                                                            \
    X(T_MSG_SUBJECT, "Betreff (optional)", "Subject (optional)")                                       \
    X(T_MSG_BODY, "Nachricht", "Message")                                                              \
    X(T_MSG_E2E,                                                                                       \
        "Die Nachricht wird Ende-zu-Ende verschlüsselt: nur Sie und die Empfängerin oder der "       \
        "Empfänger können sie lesen; andere Knoten leiten sie nur weiter.",                            \
        "The message is encrypted end to end: only you and the recipient can read it; other "          \
        "nodes only pass it on.")                                                                      \
    X(T_MSG_SEND, "Senden", "Send")                                                                    \
    X(T_MSG_NONE, "Noch keine Nachrichten.", "No messages yet.")                                       \
    X(T_MSG_WITH, "Gespräch mit", "Conversation with")                                                 \
    X(T_MSG_COUNT, "Nachrichten", "Messages")                                                          \
    X(T_MSG_LAST, "Zuletzt", "Latest")                                                                 \
    X(T_MSG_UNREAD, "neu", "new")                                                                      \
    X(T_MSG_NEW, "Neue Nachricht", "New message")                                                      \
    X(T_MSG_SENT, "Die Nachricht ist gesendet.", "The message is sent.")                               \
    X(T_MSG_FROM_ME, "Von Ihnen", "From you")                                                          \
    X(T_MSG_FROM_THEM, "An Sie", "To you")                                                             \
    X(T_MSG_NONE_WITH, "Noch keine Nachrichten in diesem Gespräch.",                                   \
        "No messages in this conversation yet.")                                                       \
    X(T_MSG_WRITE, "Nachricht schreiben", "Write a message")                                           \
    X(T_SEARCH_WORDS, "Suchbegriffe", "Search words")                                                  \
    X(T_SEARCH_FOUND, "Treffer.", "results.")                                                          \
    X(T_SEARCH_FALLBACK, "Kein Eintrag enthält alle Wörter; gezeigt werden die mit den meisten.",      \
        "No entry has every word; these have the most.")                                               \
    X(T_SEARCH_TRUNCATED, "Die Suche wurde begrenzt; genauere Wörter finden mehr.",                    \
        "The search was bounded; more precise words find more.")                                       \
    X(T_FORM_BAD,                                                                                      \
        "Ein Feld fehlt, ist zu lang oder ungültig. Bitte prüfen Sie die Angaben und senden "        \
        "Sie das Formular noch einmal.",                                                               \
        "A field is missing, too long or invalid. Check the form and send it again.")                  \
    X(T_FORM_AREA,                                                                                     \
        "Bitte geben Sie einen Bereich an (höchstens 64 Bytes; ä, ö, ü und ß zählen "            \
        "doppelt).",                                                                                   \
        "Give an area (at most 64 bytes; letters such as ä or é count twice).")                        \
    X(T_FORM_TITLE,                                                                                    \
        "Bitte geben Sie einen Titel an (höchstens 300 Bytes; ä, ö, ü und ß zählen "             \
        "doppelt).",                                                                                   \
        "Give a title (at most 300 bytes; letters such as ä or é count twice).")                       \
    X(T_FORM_REPLY_EMPTY, "Bitte schreiben Sie einen Text für Ihre Antwort.",                          \
        "Write the text of your reply.")                                                               \
    X(T_FORM_BODY_LONG, "Der Text ist zu lang: höchstens 32.000 Bytes. Bitte kürzen Sie ihn.",         \
        "The text is too long: at most 32,000 bytes. Shorten it.")                                     \
    X(T_FORM_URL,                                                                                      \
        "Die Adresse muss mit http:// oder https:// beginnen (höchstens 2048 Zeichen), "              \
        "z. B. https://www.example.org/.",                                                             \
        "The address must start with http:// or https:// (at most 2048 characters), "                  \
        "e.g. https://www.example.org/.")                                                              \
    X(T_FORM_DESC, "Die Beschreibung ist zu lang: höchstens 4000 Bytes.",                              \
        "The description is too long: at most 4000 bytes.")                                            \
    X(T_FORM_TAGS, "Höchstens 32 Schlagwörter mit je höchstens 64 Bytes.",                             \
        "At most 32 tags of at most 64 bytes each.")                                                   \
    X(T_SESSION_EXPIRED,                                                                               \
        "Ihre Sitzung ist abgelaufen (nach 12 Stunden oder durch Abmelden). Bitte melden "             \
        "Sie sich erneut an.",                                                                         \
        "Your session has ended (after 12 hours, or you logged out). Please log in again.")            \
    X(T_SESSION_EXPIRED_POST,                                                                          \
        "Ihre Sitzung ist abgelaufen, das Formular wurde nicht gespeichert. Melden Sie "               \
        "sich an, gehen Sie dann im Browser zurück (Ihr Text ist dort noch) und senden "              \
        "Sie es noch einmal.",                                                                         \
        "Your session has ended, so the form was not saved. Log in, then go back in your "             \
        "browser (your text is still there) and send it again.")                                       \
    X(T_LOGIN_FIRST, "Bitte melden Sie sich zuerst an.", "Please log in first.")                       \
    X(T_TZ_BAD, "Diese Zeitzone gibt es nicht. Bitte geben Sie einen Namen wie Europe/Berlin an.",     \
        "There is no such time zone. Give a name such as Europe/Berlin.")                              \
    X(T_TIME_BAD, "„%s“: bitte als Datum mit Uhrzeit angeben, z. B. 2026-12-03T10:00.",                \
        "\"%s\": give a date and time such as 2026-12-03T10:00.")                                      \
    X(T_CAPACITY_BAD, "„Plätze“ ist eine Anzahl (oder leer für unbegrenzt).",                          \
        "\"Places\" is a number (or empty for no limit).")                                             \
    X(T_FOUNDING_COUNCIL, "Gründungskommune", "founding council")                                      \
    X(T_OBJECT_ONE, "Eintrag", "entry")                                                                \
    X(T_SEARCH_TOO_LONG,                                                                               \
        "Die Suche ist zu lang: höchstens 16 Wörter und 1000 Bytes. Bitte kürzen Sie sie.",            \
        "The search is too long: at most 16 words and 1000 bytes. Shorten it.")                        \
    X(T_SEARCH_NO_WORD, "Die Suche enthält kein Wort, nach dem gesucht werden kann.",                  \
        "The search has no word to search for.")                                                       \
    X(T_SEARCH_UTF8, "Die Suche enthält ungültige Zeichen.",                                           \
        "The search has characters that are not valid.")                                               \
    X(T_UP_TOO_LARGE,                                                                                  \
        "„%s“ (%s) ist größer als die Grenze dieses Knotens für eine Datei (%s). Bitte teilen " \
        "Sie die Datei auf oder wenden Sie sich an die IT-Administration (knoten doc limits "          \
        "--max-file).",                                                                                \
        "\"%s\" (%s) is larger than this node's limit for one file (%s). Split it or ask "             \
        "your IT administration (knoten doc limits --max-file).")                                      \
    X(T_UP_QUOTA,                                                                                      \
        "„%s“ passt nicht mehr in den Speicher Ihrer Kommune (%s von %s belegt). Bitte ziehen "    \
        "Sie nicht mehr benötigte Dokumente zurück oder wenden Sie sich an die "                     \
        "IT-Administration.",                                                                          \
        "\"%s\" would take your council over its storage quota (%s of %s used). Withdraw "             \
        "documents that are no longer needed or ask your IT administration.")                          \
    X(T_UP_TOO_MANY,                                                                                   \
        "Zu viele Uploads sind gerade offen. Bitte warten Sie, bis einer fertig ist, oder "            \
        "laden Sie die Seite neu.",                                                                    \
        "Too many uploads are open. Wait until one has finished, or reload the page.")                 \
    X(T_DOC_MISSING, "Bitte geben Sie einen Titel und einen Bereich an.",                              \
        "Give a title and an area.")                                                                   \
    X(T_DOC_NO_FILES, "Bitte wählen Sie mindestens eine Datei.", "Choose at least one file.")          \
    X(T_DOC_SAME_NAME, "Zwei Dateien heißen „%s“. Bitte benennen Sie eine davon um.",                  \
        "Two files are called \"%s\". Rename one of them.")                                            \
    X(T_TO_START, "Zur Startseite", "Go to the start page")                                            \
    X(T_UP_EMPTY,                                                                                      \
        "„%s“ ist leer (0 Bytes). Bitte wählen Sie die richtige Datei; nichts wurde "             \
        "hochgeladen.",                                                                                \
        "“%s” is empty (0 bytes). Choose the right file; nothing was uploaded.")                       \
    X(T_ST_IDLE, "nicht verbunden", "idle")                                                            \
    X(T_ST_CONNECTING, "verbindet", "connecting")                                                      \
    X(T_ST_HANDSHAKE, "Schlüsselaustausch", "handshake")                                               \
    X(T_ST_CONNECTED, "verbunden", "connected")                                                        \
    X(T_ST_BACKOFF, "wartet auf neuen Versuch", "waiting to retry")                                    \
    X(T_ST_REVOKED, "ausgeschlossen", "revoked")                                                       \
    X(T_ST_FOUNDER, "Gründungsmitglied", "founder")                                                    \
    X(T_ST_MEMBER, "Mitglied", "member")                                                               \
    X(T_ST_PENDING, "noch nicht aufgenommen", "pending")                                               \
    X(T_ST_USED, "eingelöst", "used")                                                                  \
    X(T_ST_WITHDRAWN, "zurückgezogen", "withdrawn")                                                    \
    X(T_ST_EXPIRED, "abgelaufen", "expired")                                                           \
    X(T_ST_OPEN, "offen", "open")                                                                      \
    X(T_ACTIVATION_PENDING, " (Aktivierung ausstehend)", " (activation pending)")                      \
    X(T_GONE, "Das wurde von der Person, die es eingestellt hat, zurückgezogen.",                      \
        "This was withdrawn by the person who published it.")                                          \
    X(T_NO_OBJECT,                                                                                     \
        "Das gibt es auf diesem Knoten nicht, oder noch nicht: Beiträge anderer Kommunen "            \
        "kommen nach einigen Sekunden an. Laden Sie die Seite gleich noch einmal.",                    \
        "This is not on this node, or not yet: other councils' entries arrive after a few "            \
        "seconds. Reload the page in a moment.")                                                       \
    X(T_BAD_ID,                                                                                        \
        "Dieser Link ist unvollständig (eine Kennung hat 64 Zeichen). Bitte kopieren Sie ihn "        \
        "noch einmal ganz.",                                                                           \
        "This link is incomplete (an id has 64 characters). Copy it again in full.")                   \
    X(T_EDITED, "bearbeitet", "edited")                                                                \
    X(T_UP_FAILED, "Hochladen fehlgeschlagen", "Upload failed")

enum kn_text {
#define KN_TEXT_ENUM(id, de, en) id,
    KN_TEXTS(KN_TEXT_ENUM)
#undef KN_TEXT_ENUM
        T_COUNT
};

#endif
