// Unit tests for lib/rfc5322.h (issue 4).
#include <doctest/doctest.h>
