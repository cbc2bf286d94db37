// The resolver over libunbound: see lib/dns.h.
#include "lib/dns.h"
