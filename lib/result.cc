// Error construction shared by every Result-returning function.
#include "lib/result.h"
#include <cerrno>
#include <cstring>

Error sys_error(std::string what) {
    int e = errno;
    return Error{e, what + ": " + std::strerror(e)};
}
