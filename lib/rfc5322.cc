// RFC 5322 parsing: see lib/rfc5322.h.
#include "lib/rfc5322.h"
