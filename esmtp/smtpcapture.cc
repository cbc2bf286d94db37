// smtpcapture: an SMTP server that writes every message it receives into a directory,
// one file per message, with options to refuse hosts, senders and recipients and to
// fail deliveries: a mail sink for testing programs that send mail (this MTA's own
// tests use it). It is the example program of libsmtpembed; manual: smtpcapture(1).
// SECURITY: runs as whoever starts it and needs no privileges (use a port >= 1024);
// it never delivers mail anywhere, and writes only inside its directory.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <sysexits.h>
#include "esmtp/embedded_smtp_server.h"
#include "esmtp/smtpcapture_rules.h"
#include "lib/fileio.h"

namespace {
constexpr const char* kUsage =
    "usage: smtpcapture -d DIRECTORY [-a ADDRESS] [-p PORT] [-n NAME] [-v]\n"
    "         [--refuse-host PATTERN] [--reject-sender PATTERN] [--reject-recipient PATTERN]\n"
    "         [--fail-delivery PATTERN] [--defer-delivery PATTERN]\n"
    "         [--tls-cert FILE [--tls-key FILE] [--implicit-tls]]\n"
    "         [--max-connections N] [--size-limit BYTES] [--max-messages N]\n";
}  // namespace

int main(int argc, char** argv) {
    auto parsed = parse_capture_options(std::vector<std::string>(argv + 1, argv + argc));
    if (!parsed) {
        std::cerr << "smtpcapture: " << parsed.error().text << "\n" << kUsage;
        return EX_USAGE;
    }
    const CaptureOptions& opts = *parsed;
    if (opts.help) {
        std::cout << kUsage;
        return EX_OK;
    }
    if (Status s = ensure_dir(opts.directory, 0755); !s) {
        std::cerr << "smtpcapture: " << s.error().text << "\n";
        return EX_CANTCREAT;
    }
    // The signals that end us are taken by sigwait() below; blocked before the server
    // starts, so its threads inherit the mask and never receive them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&stop_signals, sig);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    pthread_t main_thread = pthread_self();

    std::atomic<long> captured{0};
    auto on_captured = [&](const std::string& name) {
        std::cout << "captured " << opts.directory << "/" << name << std::endl;
        // --max-messages: the main thread ends the server (stop() may not be called
        // from inside a callback).
        if (opts.max_messages > 0 && ++captured >= opts.max_messages) pthread_kill(main_thread, SIGUSR1);
    };
    smtpembed::Options so;
    so.address = opts.address;
    so.port = opts.port;
    so.server_name = opts.server_name;
    so.banner = "ESMTP smtpcapture";
    so.tls_cert_file = opts.tls_cert;
    so.tls_key_file = opts.tls_key;
    so.implicit_tls = opts.implicit_tls;
    so.max_connections = opts.max_connections;
    so.size_limit = opts.size_limit;
    if (opts.verbose) so.log = [](const std::string& line) { std::cerr << ("smtpcapture: " + line + "\n") << std::flush; };
    smtpembed::Server server(so, capture_callbacks(opts, on_captured));
    std::string why;
    if (!server.start(&why)) {
        std::cerr << "smtpcapture: " << why << "\n";
        return EX_UNAVAILABLE;
    }
    // With -p 0 this line is how a caller learns the port.
    std::cout << "smtpcapture: listening on " << (opts.address.empty() ? "*" : opts.address) << " port "
              << server.port() << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.stop(std::chrono::milliseconds(2000));
    std::cout << "smtpcapture: stopped" << std::endl;
    return EX_OK;
}
