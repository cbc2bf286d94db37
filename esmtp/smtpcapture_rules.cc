// smtpcapture's command line, refusal patterns and capture files (smtpcapture_rules.h).
#include "esmtp/smtpcapture_rules.h"
#include <charconv>
#include <fnmatch.h>
#include "lib/fileio.h"

namespace {
template <typename Number>
bool parse_number(const std::string& text, Number& out) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// Header values come from the network: no line breaks or controls may get through.
std::string header_value(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
    }
    return out;
}

std::string first_match(const std::vector<std::string>& patterns, const std::vector<std::string>& values) {
    for (const std::string& v : values)
        if (matches_any(patterns, v)) return v;
    return "";
}
}  // namespace

Result<CaptureOptions> parse_capture_options(const std::vector<std::string>& args) {
    CaptureOptions o;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) return false;
            out = args[++i];
            return true;
        };
        auto append = [&](std::vector<std::string>& list) {
            std::string pattern;
            if (!value(pattern)) return false;
            list.push_back(std::move(pattern));
            return true;
        };
        std::string v;
        bool ok = true;
        if (a == "-h" || a == "--help") o.help = true;
        else if (a == "-v" || a == "--verbose") o.verbose = true;
        else if (a == "--implicit-tls") o.implicit_tls = true;
        else if (a == "-d" || a == "--directory") ok = value(o.directory);
        else if (a == "-a" || a == "--address") ok = value(o.address);
        else if (a == "-n" || a == "--name") ok = value(o.server_name);
        else if (a == "--tls-cert") ok = value(o.tls_cert);
        else if (a == "--tls-key") ok = value(o.tls_key);
        else if (a == "-p" || a == "--port") ok = value(v) && parse_number(v, o.port);
        else if (a == "--max-connections") ok = value(v) && parse_number(v, o.max_connections) && o.max_connections > 0;
        else if (a == "--size-limit") ok = value(v) && parse_number(v, o.size_limit) && o.size_limit > 0;
        else if (a == "--max-messages") ok = value(v) && parse_number(v, o.max_messages) && o.max_messages >= 0;
        else if (a == "--refuse-host") ok = append(o.refuse_hosts);
        else if (a == "--reject-sender") ok = append(o.reject_senders);
        else if (a == "--reject-recipient") ok = append(o.reject_recipients);
        else if (a == "--fail-delivery") ok = append(o.fail_delivery);
        else if (a == "--defer-delivery") ok = append(o.defer_delivery);
        else return Error{0, "unknown option " + a + " (see smtpcapture --help)"};
        if (!ok) return Error{0, "option " + a + " needs a valid value"};
    }
    if (o.help) return o;
    if (o.directory.empty()) return Error{0, "option -d DIRECTORY is required"};
    if (!o.tls_key.empty() && o.tls_cert.empty()) return Error{0, "option --tls-key needs --tls-cert"};
    if (o.implicit_tls && o.tls_cert.empty()) return Error{0, "option --implicit-tls needs --tls-cert"};
    return o;
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view value) {
    std::string v(value);
    for (const std::string& p : patterns)
        if (::fnmatch(p.c_str(), v.c_str(), FNM_CASEFOLD) == 0) return true;
    return false;
}

std::string capture_file_text(const smtpembed::Message& m) {
    std::string out = "X-Envelope-From: <" + header_value(m.sender) + ">\r\n";
    for (const std::string& r : m.recipients) out += "X-Envelope-To: <" + header_value(r) + ">\r\n";
    out += "X-Envelope-Client: " + header_value(m.client_ip) + " helo=" + header_value(m.helo);
    if (!m.tls.empty()) out += " tls=" + header_value(m.tls);
    out += "\r\n";
    return out + m.data;
}

std::string capture_file_name(std::string_view id) {
    std::string out;
    for (char c : id) {
        bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
        out.push_back(safe ? c : '_');
    }
    if (out.empty() || out[0] == '.') out.insert(0, "m");
    return out + ".eml";
}

smtpembed::Callbacks capture_callbacks(const CaptureOptions& o, std::function<void(const std::string&)> on_captured) {
    using smtpembed::Verdict;
    smtpembed::Callbacks cb;
    if (!o.refuse_hosts.empty())
        cb.validate_host = [p = o.refuse_hosts](const std::string& ip) {
            return matches_any(p, ip) ? Verdict::refuse("host " + ip + " matches --refuse-host") : Verdict::accept();
        };
    if (!o.reject_senders.empty())
        cb.validate_sender = [p = o.reject_senders](const std::string& s) {
            return matches_any(p, s) ? Verdict::refuse("matches --reject-sender") : Verdict::accept();
        };
    if (!o.reject_recipients.empty())
        cb.validate_recipient = [p = o.reject_recipients](const std::string& r) {
            return matches_any(p, r) ? Verdict::refuse("matches --reject-recipient") : Verdict::accept();
        };
    cb.deliver = [o, on_captured](const smtpembed::Message& m) {
        if (std::string r = first_match(o.fail_delivery, m.recipients); !r.empty())
            return Verdict::refuse("delivery to <" + r + "> refused by --fail-delivery");
        if (std::string r = first_match(o.defer_delivery, m.recipients); !r.empty())
            return Verdict::reply(451, "4.3.0 Delivery to <" + r + "> deferred by --defer-delivery");
        std::string name = capture_file_name(m.id);
        // Written to a hidden name and renamed: a test polling the folder never sees
        // half a message, and a 250 means the file is on disk.
        if (Status s = write_file_durably(o.directory, name, capture_file_text(m), 0644); !s)
            return Verdict::reply(451, "4.3.0 Cannot store the message: " + s.error().text);
        if (on_captured) on_captured(name);
        return Verdict::accept();
    };
    return cb;
}
