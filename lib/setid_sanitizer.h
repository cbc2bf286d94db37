// Included once, by the main file of each set-uid program (submit, cancelmsg).
// In a --enable-sanitizers build LeakSanitizer cannot inspect a set-uid process and
// would turn every exit into a failure; a set-uid process ignores ASAN_OPTIONS, so the
// default is set here. The unit tests keep their leak checks.
#pragma once
#ifdef __SANITIZE_ADDRESS__
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif
