// sendmail(1) option parsing.
#include "submit/sendmail_options.h"
#include "lib/address.h"

namespace submit {

namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    return s;
}

// -N: "never", or a comma list of success, failure, delay (RFC 3461 NOTIFY).
std::optional<std::string> dsn_notify(const std::string& v) {
    std::string u = upper(v);
    if (u == "NEVER") return u;
    std::string out;
    size_t pos = 0;
    while (pos <= u.size()) {
        size_t comma = u.find(',', pos);
        std::string item = u.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? u.size() + 1 : comma + 1;
        if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY") return std::nullopt;
        out += (out.empty() ? "" : ",") + item;
    }
    return out;
}

}  // namespace

std::optional<SendmailOptions> parse_sendmail_args(const std::vector<std::string>& args,
                                                   std::string* error) {
    SendmailOptions o;
    size_t i = 0;
    // The value of an option: the rest of the word ("-fuser") or the next word.
    auto value = [&](const std::string& a, size_t skip) -> std::optional<std::string> {
        if (a.size() > skip) return a.substr(skip);
        if (i + 1 < args.size()) return args[++i];
        *error = "option " + a + " needs a value";
        return std::nullopt;
    };
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-') break;
        char c = a[1];
        if (a == "-t") o.recipients_from_headers = true;
        else if (a == "-i" || a == "-oi") o.ignore_dots = true;
        else if (a == "-bm") o.mode = SendmailOptions::Mode::deliver;
        else if (a == "-bs") o.mode = SendmailOptions::Mode::smtp;
        else if (a == "-bS") o.mode = SendmailOptions::Mode::batch_smtp;
        else if (a == "-bp") o.mode = SendmailOptions::Mode::print_queue;
        else if (a.rfind("-q", 0) == 0) o.mode = SendmailOptions::Mode::flush;   // -q, -q30m
        else if (c == 'f' || c == 'r') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            std::string s = *v;
            if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
            if (!s.empty() && !parse_mailbox(s)) {
                *error = "bad sender address " + *v;
                return std::nullopt;
            }
            o.sender = s;
        } else if (c == 'F') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            o.full_name = *v;
        } else if (c == 'N') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            auto n = dsn_notify(*v);
            if (!n) {
                *error = "bad -N value " + *v;
                return std::nullopt;
            }
            o.notify = *n;
        } else if (c == 'R') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            o.ret = upper(*v);
            if (o.ret != "FULL" && o.ret != "HDRS") {
                *error = "bad -R value " + *v;
                return std::nullopt;
            }
        } else if (c == 'V') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            o.envid = *v;
        } else if (c == 'B') {
            auto v = value(a, 2);
            if (!v) return std::nullopt;
            o.body = upper(*v);
            if (o.body != "7BIT" && o.body != "8BITMIME") {
                *error = "bad -B value " + *v;
                return std::nullopt;
            }
        } else if (c == 'o' || c == 'O' || c == 'v' || c == 'U' || c == 'G' || c == 'n' ||
                   c == 'm' || c == 'e' || c == 'd') {
            // -oem, -odb, -om, -v, ...: behaviours of other sendmails, nothing to do here.
        } else if (c == 'X' || c == 'L' || c == 'h' || c == 'C' || c == 'A') {
            if (!value(a, 2)) return std::nullopt;   // takes a value, ignored
        } else {
            *error = "unknown option " + a;
            return std::nullopt;
        }
    }
    for (; i < args.size(); ++i) o.recipients.push_back(args[i]);
    return o;
}

}  // namespace submit
