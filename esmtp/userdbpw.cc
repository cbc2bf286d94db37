// userdbpw: reads a password on standard input and prints the userdb field value for
// it: a SHA-512 crypt(3) hash for systempw (default), or with -cram-md5 the base64
// secret for crammd5pw. Courier's usage: userdbpw | sed 's/^/systempw=/'.
// SECURITY: the password is read from stdin (echo off on a terminal), never argv.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>
#include "esmtp/auth_sasl.h"
#include "esmtp/auth_userdb.h"

namespace {
bool read_password(const char* prompt, std::string& out) {
    bool tty = ::isatty(STDIN_FILENO);
    struct termios old{};
    if (tty) {
        std::fprintf(stderr, "%s", prompt);
        ::tcgetattr(STDIN_FILENO, &old);
        struct termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    bool ok = static_cast<bool>(std::getline(std::cin, out));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return ok;
}
}  // namespace

int main(int argc, char** argv) {
    bool cram = argc == 2 && (std::strcmp(argv[1], "-cram-md5") == 0 || std::strcmp(argv[1], "-hmac-md5") == 0);
    if (argc > 2 || (argc == 2 && !cram)) {
        std::fprintf(stderr, "usage: userdbpw [-cram-md5]\n");
        return EX_USAGE;
    }
    std::string pw, again;
    if (!read_password("Password: ", pw) || pw.empty()) {
        std::fprintf(stderr, "userdbpw: no password\n");
        return EX_DATAERR;
    }
    if (::isatty(STDIN_FILENO) && (!read_password("Reenter password: ", again) || again != pw)) {
        std::fprintf(stderr, "userdbpw: passwords do not match\n");
        return EX_DATAERR;
    }
    if (cram) {
        std::printf("%s\n", esmtp::base64_encode(pw).c_str());
        return EX_OK;
    }
    auto hash = esmtp::hash_password(pw);
    if (!hash) {
        std::fprintf(stderr, "userdbpw: %s\n", hash.error().text.c_str());
        return EX_SOFTWARE;
    }
    std::printf("%s\n", hash->c_str());
    return EX_OK;
}
