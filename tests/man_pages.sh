#!/bin/sh
# Every manual page renders with man -l without a warning.
passed=0 failed=0
for page in "$COURIER_SRCDIR"/doc/man/*.[0-9]; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    if [ -z "$warnings" ]; then passed=$((passed + 1)); else
        echo "FAIL $page: $warnings"; failed=$((failed + 1)); fi
done
echo "RESULT: $passed passed, $failed failed"
[ $failed -eq 0 ]
