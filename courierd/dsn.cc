// Delivery status notifications; see dsn.h.
#include "courierd/dsn.h"
#include <algorithm>
#include <cctype>

namespace courierd {

namespace {

bool is_enhanced(std::string_view s) {
    // class.subject.detail: [245].[0-9]{1,3}.[0-9]{1,3}
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    int dots = 0;
    for (char c : s.substr(2)) {
        if (c == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return dots == 1 && s.back() != '.' && s[2] != '.';
}

// Only printable US-ASCII goes into header-like fields of the report.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        out += (u >= 32 && u < 127) ? c : '?';
    }
    return out;
}

std::string action_name(NoticeItem::Action a) {
    switch (a) {
    case NoticeItem::Action::failed: return "failed";
    case NoticeItem::Action::delayed: return "delayed";
    case NoticeItem::Action::delivered: return "delivered";
    case NoticeItem::Action::relayed: return "relayed";
    }
    return "failed";
}

// "rfc822;user@host" as ORCPT carries it (RFC 3461 4.2): "type;address".
std::string original_recipient(const std::string& orcpt) {
    if (orcpt.find(';') != std::string::npos) return printable(orcpt);
    return "rfc822;" + printable(orcpt);
}

std::string headers_of(std::string_view message) {
    if (message.substr(0, 1) == "\n") return "";
    auto end = message.find("\n\n");
    return std::string(end == std::string_view::npos ? message : message.substr(0, end + 1));
}

std::string human_text(const QueueEnvelope& env, const std::vector<NoticeItem>& items,
                       const NoticeSettings& s, bool failure, bool delay) {
    std::string t = "This is a delivery status notification from " + s.me + ".\n\n";
    if (delay)
        t += "Your message has not been delivered yet to the recipients below. Delivery\n"
             "attempts continue; you will be told if it finally fails. Nothing needs to be\n"
             "done now.\n\n";
    else if (failure)
        t += "Your message could not be delivered to one or more recipients. It is\n"
             "attached below.\n\n";
    else if (std::any_of(items.begin(), items.end(),
                         [](const NoticeItem& i) { return i.action == NoticeItem::Action::relayed; }))
        t += "Your message was delivered to the recipients below, as you asked to be told.\n"
             "Where it says \"relayed\", it went on to a mail server that does not report\n"
             "delivery: this is the last notice you will get for those recipients.\n\n";
    else
        t += "Your message was delivered to the recipients below, as you asked to be told.\n\n";
    for (const auto& it : items)
        t += "<" + printable(env.rcpts[it.index].address) + ">: " + action_name(it.action) +
             "\n    " + printable(it.text) + "\n";
    return t;
}

}  // namespace

std::string dsn_status(std::string_view reply) {
    auto sp = reply.find(' ');
    std::string_view code = reply.substr(0, sp);
    if (sp != std::string_view::npos) {
        std::string_view rest = reply.substr(sp + 1);
        std::string_view second = rest.substr(0, rest.find(' '));
        if (is_enhanced(second)) return std::string(second);
    }
    if (!code.empty() && (code[0] == '2' || code[0] == '4' || code[0] == '5'))
        return std::string(1, code[0]) + ".0.0";
    return "5.0.0";
}

std::string rfc5322_date(std::time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

bool return_full_message(const QueueEnvelope& env, bool is_failure, uint64_t dsnlimit) {
    if (env.ret == "HDRS") return false;
    if (is_failure) return true;
    return env.ret == "FULL" && env.data_size <= dsnlimit;
}

std::string build_notice(const QueueEnvelope& env, const std::vector<NoticeItem>& items,
                         std::string_view message, const NoticeSettings& s, std::time_t now) {
    bool failure = std::any_of(items.begin(), items.end(), [](const NoticeItem& i) {
        return i.action == NoticeItem::Action::failed;
    });
    bool delay = !items.empty() && items[0].action == NoticeItem::Action::delayed;
    std::string boundary = "=_courier-dsn-" + env.id.text + "-" + std::to_string(now);
    std::string from = s.dsnfrom.empty()
                           ? "\"Courier mail server at " + s.me + "\" <postmaster@" + s.me + ">"
                           : s.dsnfrom;
    std::string subject = failure ? "Delivery Status Notification (Failure)"
                          : delay ? "Delivery Status Notification (Delay)"
                                  : "Delivery Status Notification (Success)";
    std::string m;
    m += "From: " + printable(from) + "\n";
    m += "To: <" + printable(env.sender) + ">\n";
    m += "Subject: " + subject + "\n";
    m += "Date: " + rfc5322_date(now) + "\n";
    m += "Message-ID: <" + env.id.text + "." + std::to_string(now) + "." +
         (failure ? "failure" : delay ? "delay" : "success") + "@" + s.me + ">\n";
    m += "Auto-Submitted: auto-replied\n";   // RFC 3834: no automatic reply to this
    m += "MIME-Version: 1.0\n";
    m += "Content-Type: multipart/report; report-type=delivery-status;\n"
         "    boundary=\"" + boundary + "\"\n\n";
    m += "This is a MIME-formatted message.\n\n";
    m += "--" + boundary + "\nContent-Type: text/plain; charset=us-ascii\n\n";
    m += human_text(env, items, s, failure, delay);
    m += "\n--" + boundary + "\nContent-Type: message/delivery-status\n\n";
    // Per-message fields (RFC 3464 2.2).
    m += "Reporting-MTA: dns; " + printable(s.me) + "\n";
    if (!env.envid.empty()) m += "Original-Envelope-Id: " + printable(env.envid) + "\n";
    m += "Arrival-Date: " + rfc5322_date(env.arrival) + "\n";
    // Per-recipient fields (RFC 3464 2.3), one block each.
    for (const auto& it : items) {
        const QueueRecipient& r = env.rcpts[it.index];
        m += "\n";
        if (!r.orcpt.empty()) m += "Original-Recipient: " + original_recipient(r.orcpt) + "\n";
        m += "Final-Recipient: rfc822; " + printable(r.address) + "\n";
        m += "Action: " + action_name(it.action) + "\n";
        m += "Status: " + dsn_status(it.text) + "\n";
        if (r.module == "esmtp") m += "Remote-MTA: dns; " + printable(r.host) + "\n";
        m += "Diagnostic-Code: smtp; " + printable(it.text) + "\n";
        m += "Last-Attempt-Date: " + rfc5322_date(it.when) + "\n";
        if (it.action == NoticeItem::Action::delayed && s.will_retry_until > 0)
            m += "Will-Retry-Until: " + rfc5322_date(s.will_retry_until) + "\n";
    }
    m += "\n--" + boundary + "\n";
    if (return_full_message(env, failure, s.dsnlimit)) {
        m += "Content-Type: message/rfc822\n";
        if (env.body == "8BITMIME") m += "Content-Transfer-Encoding: 8bit\n";
        m += "\n";
        m.append(message);
        if (!message.empty() && message.back() != '\n') m += "\n";
    } else {
        m += "Content-Type: text/rfc822-headers\n\n" + headers_of(message);
    }
    m += "\n--" + boundary + "--\n";
    return m;
}

}  // namespace courierd
