// couriertcpd option parsing (couriertcpd(1), OPTIONS). Options the manual lists but
// this build does not implement yet are refused by name rather than ignored: silently
// dropping -access or -block would accept connections the administrator meant to deny.
#include "tcpd/tcpd_options.h"

#include <charconv>
#include <string_view>

namespace {

Error usage(std::string text) { return Error{0, std::move(text)}; }

// A decimal number in [min, max]; nullopt for anything else (signs, spaces, overflow).
std::optional<unsigned> parse_count(std::string_view s, unsigned min, unsigned max) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    if (v < min || v > max) return std::nullopt;
    return v;
}

// Splits "-name=value" (or "--name=value") into name and value; has_value tells
// "-name=" (empty value) from "-name".
struct OptionWord {
    std::string_view name, value;
    bool has_value = false;
};

OptionWord split_option(std::string_view arg) {
    arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
    OptionWord w;
    auto eq = arg.find('=');
    w.name = arg.substr(0, eq);
    if (eq != std::string_view::npos) {
        w.value = arg.substr(eq + 1);
        w.has_value = true;
    }
    return w;
}

Status set_count(const OptionWord& w, unsigned min, unsigned max, unsigned& out) {
    auto v = parse_count(w.value, min, max);
    if (!w.has_value || !v)
        return usage("-" + std::string(w.name) + " needs a number from " +
                     std::to_string(min) + " to " + std::to_string(max));
    out = *v;
    return ok_status();
}

Status set_text(const OptionWord& w, std::string& out) {
    if (!w.has_value || w.value.empty())
        return usage("-" + std::string(w.name) + " needs a value");
    out = std::string(w.value);
    return ok_status();
}

Status apply_flag(const OptionWord& w, TcpdOptions& o, bool& known) {
    known = true;
    if (w.has_value) {
        if (w.name == "stop" || w.name == "restart" || w.name == "nodnslookup" ||
            w.name == "noidentlookup" || w.name == "accesslocal")
            return usage("-" + std::string(w.name) + " takes no value");
    }
    if (w.name == "stop") o.action = TcpdAction::stop;
    else if (w.name == "restart") o.action = TcpdAction::restart;
    else if (w.name == "nodnslookup") o.dns_lookup = false;
    else if (w.name == "noidentlookup") o.ident_lookup = false;
    else if (w.name == "accesslocal") o.access_local = true;
    else known = false;
    return ok_status();
}

Status apply_stderr(const OptionWord& w, TcpdOptions& o) {
    if (!w.has_value || w.value.empty()) return usage("-stderr needs socket or a file name");
    if (w.value == "socket") {
        o.stderr_mode = StderrMode::socket;
    } else {
        o.stderr_mode = StderrMode::logfile;
        o.stderr_file = std::string(w.value);
    }
    return ok_status();
}

Status apply_option(std::string_view arg, TcpdOptions& o) {
    OptionWord w = split_option(arg);
    bool known = false;
    if (Status s = apply_flag(w, o, known); !s || known) return s;
    unsigned n = 0;
    if (w.name == "pid") return set_text(w, o.pid_file);
    if (w.name == "address") return set_text(w, o.address);
    if (w.name == "user") return set_text(w, o.user);
    if (w.name == "group") return set_text(w, o.group);
    if (w.name == "stderr") return apply_stderr(w, o);
    if (w.name == "dnstimeout") return set_count(w, 1, 3600, o.dns_timeout);
    if (w.name == "maxprocs") return set_count(w, 1, 1000000, o.max_procs);
    if (w.name == "maxperip") return set_count(w, 0, 1000000, o.max_per_ip);
    if (w.name == "maxperc") return set_count(w, 0, 1000000, o.max_per_c);
    if (w.name == "listen") {
        Status s = set_count(w, 1, 1000000, n);
        if (s) o.listen_backlog = static_cast<int>(n);
        return s;
    }
    if (w.name == "warn") {
        Status s = set_count(w, 0, 1000000, n);
        if (s) o.warn = n;
        return s;
    }
    if (w.name == "access") return set_text(w, o.access_file);
    if (w.name == "stderrlogger") return set_text(w, o.stderr_logger);
    if (w.name == "stderrloggername") return set_text(w, o.stderr_logger_name);
    if (w.name == "denymsg") {
        if (!w.has_value) return usage("-denymsg needs a message");
        o.deny_msg = std::string(w.value);
        return ok_status();
    }
    if (w.name == "block" || w.name == "allow") {
        if (!w.has_value) return usage("-" + std::string(w.name) + " needs a zone");
        auto l = tcpd::parse_dns_list(w.value, w.name == "allow");
        if (!l) return usage(l.error().text);
        o.dns_lists.push_back(std::move(*l));
        return ok_status();
    }
    if (w.name == "drop") {
        for (auto& v : tcpd::parse_drop_list(w.value)) o.drop_vars.push_back(std::move(v));
        return ok_status();
    }
    if (w.name == "haproxy") {
        if (o.haproxy.enabled) return usage("only one -haproxy option is allowed");
        auto h = tcpd::parse_haproxy_option(w.value);
        if (!h) return usage(h.error().text);
        o.haproxy = std::move(*h);
        return ok_status();
    }
    return usage("unknown option " + std::string(arg));
}

Status check_complete(const TcpdOptions& o) {
    if (o.action != TcpdAction::serve) {
        if (o.pid_file.empty()) return usage("-stop and -restart need -pid=file");
        if (!o.port_list.empty()) return usage("-stop and -restart take no port list");
        return ok_status();
    }
    if (o.port_list.empty()) return usage("missing port list");
    if (o.program.empty()) return usage("missing program");
    if (o.warn && *o.warn > o.max_procs) return usage("-warn exceeds -maxprocs");
    return ok_status();
}

}  // namespace

unsigned TcpdOptions::warn_threshold() const {
    if (warn) return *warn;
    return static_cast<unsigned>(max_procs * 9ull / 10);
}

const char* tcpd_usage() {
    return "usage: couriertcpd [-pid=file] [option...] list program [arg...]\n"
           "       couriertcpd -pid=file -stop|-restart";
}

Result<TcpdOptions> parse_tcpd_options(const std::vector<std::string>& args) {
    TcpdOptions o;
    size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") { ++i; break; }
        if (a.size() < 2 || a[0] != '-') break;
        if (Status s = apply_option(a, o); !s) return s.error();
    }
    if (i < args.size()) o.port_list = args[i++];
    for (; i < args.size(); ++i) o.program.push_back(args[i]);
    if (Status s = check_complete(o); !s) return s.error();
    return o;
}
