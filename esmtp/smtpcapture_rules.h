// smtpcapture's rules, apart from its main so unit tests reach them: the command line,
// which senders, recipients and hosts it refuses (shell patterns, case-insensitive),
// and the file each captured message becomes (envelope in X-Envelope-* headers on
// top of the message as received). Manual: smtpcapture(1).
#pragma once
#include <string>
#include <string_view>
#include <vector>
#include "esmtp/embedded_smtp_server.h"
#include "lib/result.h"

struct CaptureOptions {
    std::string directory;                       // -d: where messages are written
    std::string address = "127.0.0.1";           // -a
    uint16_t port = 2525;                        // -p (0: any free port)
    std::string server_name;                     // -n
    std::vector<std::string> refuse_hosts;       // --refuse-host: validate_host
    std::vector<std::string> reject_senders;     // --reject-sender: validate_sender
    std::vector<std::string> reject_recipients;  // --reject-recipient: validate_recipient
    std::vector<std::string> fail_delivery;      // --fail-delivery: deliver answers 554
    std::vector<std::string> defer_delivery;     // --defer-delivery: deliver answers 451
    std::string tls_cert, tls_key;               // --tls-cert, --tls-key
    bool implicit_tls = false;                   // --implicit-tls
    unsigned max_connections = 20;               // --max-connections
    uint64_t size_limit = 10485760;              // --size-limit
    long max_messages = 0;                       // --max-messages: exit after N (0: never)
    bool verbose = false;                        // -v: log every event on stderr
    bool help = false;
};

// Parses argv; the error names the option at fault.
Result<CaptureOptions> parse_capture_options(const std::vector<std::string>& args);
// A shell pattern (fnmatch: *, ?, [...]) matched against an address or IP, ignoring
// case (domains are case-insensitive and test suites should not trip on local parts).
bool matches_any(const std::vector<std::string>& patterns, std::string_view value);
// The file: X-Envelope-From / X-Envelope-To (one per recipient) / X-Envelope-Client,
// then Message::data unchanged.
std::string capture_file_text(const smtpembed::Message& m);
// "<id>.eml", the id made safe as a file name.
std::string capture_file_name(std::string_view id);
// The callbacks smtpcapture gives the library; deliver writes into options.directory
// and calls on_captured with the file's name.
smtpembed::Callbacks capture_callbacks(const CaptureOptions& options,
                                       std::function<void(const std::string&)> on_captured);
