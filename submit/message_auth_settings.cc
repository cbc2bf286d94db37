// The settings of DKIM signing/checking and DMARC enforcement (dkimsettings,
// dmarcpolicy; courier-dkim(5)), parsed apart from submit/message_auth.cc so that
// `courier check` reports their errors without linking the checks themselves.
#include <algorithm>
#include "lib/address.h"
#include "lib/fileio.h"
#include "submit/message_auth.h"

namespace submit {

namespace {

constexpr const char* kSettingsFile = "dkimsettings";
constexpr const char* kPolicyFile = "dmarcpolicy";
constexpr size_t kMaxSignaturesLimit = 50;

std::string lower(std::string_view s) { return lowercase_ascii(s); }

// The line of a NAME=value settings text that sets `name`, for file:line messages.
int line_of(std::string_view text, std::string_view name) {
    int lineno = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
        pos = nl == text.npos ? text.size() : nl + 1;
        ++lineno;
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.rfind("export ", 0) == 0) line.remove_prefix(7);
        if (line.rfind(std::string(name) + "=", 0) == 0) return lineno;
    }
    return 0;
}

// "From To, Subject:Date" -> {"from", "to", "subject", "date"}.
std::vector<std::string> header_names(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : std::string(v) + " ") {
        if (c == ' ' || c == '\t' || c == ',' || c == ':') {
            if (!cur.empty()) out.push_back(lower(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    return out;
}

bool valid_header_name(const std::string& n) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return c > 32 && c < 127 && c != ':'; });
}

}  // namespace

// ---- settings -------------------------------------------------------------------------

MessageAuthSettings parse_message_auth_settings(std::string_view settings_text, const std::string& origin,
                                                std::optional<std::string> dmarcpolicy) {
    MessageAuthSettings s;
    Settings set = Settings::parse(settings_text, &s.errors, origin);
    auto where = [&](std::string_view name) { return origin + ":" + std::to_string(line_of(settings_text, name)); };
    if (auto v = set.get("DKIM_SIGN_CANONICALIZATION")) {
        auto c = dkim::parse_canon(lower(*v));
        if (c) {
            s.header_canon = c->first;
            s.body_canon = c->second;
        } else {
            s.errors.push_back(where("DKIM_SIGN_CANONICALIZATION") + ": DKIM_SIGN_CANONICALIZATION: not "
                               "simple|relaxed[/simple|relaxed]");
        }
    }
    for (const char* name : {"DKIM_SIGN_HEADERS", "DKIM_OVERSIGN"}) {
        auto v = set.get(name);
        if (!v) continue;
        auto names = header_names(*v);
        if (!std::all_of(names.begin(), names.end(), valid_header_name)) {
            s.errors.push_back(where(name) + ": " + name + ": bad header name");
            continue;
        }
        (std::string_view(name) == "DKIM_SIGN_HEADERS" ? s.sign_headers : s.oversign) = names;
    }
    if (auto v = set.get("DKIM_VERIFY")) {
        if (*v == "0" || *v == "1") s.verify = *v == "1";
        else s.errors.push_back(where("DKIM_VERIFY") + ": DKIM_VERIFY: not 0 or 1");
    }
    if (auto v = set.get("DKIM_VERIFY_MAX")) {
        long n = set.get_long("DKIM_VERIFY_MAX", -1);
        if (n >= 1 && n <= long(kMaxSignaturesLimit)) s.max_signatures = size_t(n);
        else s.errors.push_back(where("DKIM_VERIFY_MAX") + ": DKIM_VERIFY_MAX: not a number from 1 to 50");
    }
    if (dmarcpolicy) {
        s.enforce_where = std::string(kPolicyFile) + ":1";
        auto d = dmarc::parse_disposition(*dmarcpolicy);
        if (d) s.enforce = *d;
        else s.errors.push_back(s.enforce_where + ": not none, quarantine or reject");
    }
    return s;
}

MessageAuthSettings load_message_auth_settings(const ConfigDir& cfg) {
    auto text = read_file(cfg.path(kSettingsFile), 64 * 1024);
    return parse_message_auth_settings(text ? std::string_view(*text) : std::string_view(), kSettingsFile,
                                       cfg.first_line(kPolicyFile));
}

}  // namespace submit
