// Unit tests for lib/tls.h (issue 3).
#include <doctest/doctest.h>
