// Unit tests for lib/dns.h (issue 6).
#include <doctest/doctest.h>
