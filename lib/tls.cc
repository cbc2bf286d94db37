// TLS over OpenSSL: see lib/tls.h.
#include "lib/tls.h"
