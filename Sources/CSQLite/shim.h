// Debian's libsqlite3-dev: the image index of the retrieve skill.
#include <sqlite3.h>
