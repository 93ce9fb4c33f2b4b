// The system SQLite (libsqlite3-dev), for the crawler's crash-safe state.
#include <sqlite3.h>
