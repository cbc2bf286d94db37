// Headers of locally submitted mail.
#include "submit/local_headers.h"
#include <cctype>
#include "lib/rfc5322.h"

namespace submit {

std::string format_mailbox(std::string_view name, std::string_view address) {
    std::string clean;
    for (char c : name)
        if (c != '\r' && c != '\n') clean.push_back(c);
    if (clean.empty()) return std::string(address);
    bool plain = true;
    for (char c : clean)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == '_' ||
              c == '.' || static_cast<unsigned char>(c) >= 0x80))
            plain = false;
    std::string out;
    if (plain && clean.find('.') == std::string::npos) {
        out = clean;
    } else {
        out = "\"";
        for (char c : clean) {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(c);
        }
        out += "\"";
    }
    return out + " <" + std::string(address) + ">";
}

LocalHeaders prepare_local_headers(std::string_view header_block, const LocalHeaderOptions& o) {
    auto fields = parse_header_block(header_block);
    bool resent = false;
    for (const auto& f : fields)
        if (header_name_is(f, "Resent-To") || header_name_is(f, "Resent-Cc") ||
            header_name_is(f, "Resent-Bcc"))
            resent = true;
    LocalHeaders out;
    bool have_date = false, have_msgid = false, have_from = false;
    for (const auto& f : fields) {
        const char* to = resent ? "Resent-To" : "To";
        const char* cc = resent ? "Resent-Cc" : "Cc";
        const char* bcc = resent ? "Resent-Bcc" : "Bcc";
        if (header_name_is(f, to) || header_name_is(f, cc) || header_name_is(f, bcc))
            for (auto& a : parse_address_list(f.value)) out.rcpts.push_back(std::move(a));
        // Blind copies stay blind: the field never reaches the queue.
        if (header_name_is(f, "Bcc") || header_name_is(f, "Resent-Bcc")) continue;
        if (header_name_is(f, "Date")) have_date = true;
        if (header_name_is(f, "Message-ID")) have_msgid = true;
        if (header_name_is(f, "From")) {
            have_from = true;
            if (o.force_from) continue;
        }
        if (header_name_is(f, "X-Sender") && o.x_sender) continue;
        out.block += f.raw;
        if (!out.block.empty() && out.block.back() != '\n') out.block += '\n';
    }
    std::string added;
    if (!have_from || o.force_from) added += "From: " + format_mailbox(o.full_name, o.user_address) + "\n";
    if (o.x_sender) added += "X-Sender: " + o.user_address + "\n";
    if (!have_date) added += "Date: " + o.date + "\n";
    if (!have_msgid) added += "Message-ID: <" + o.unique + "@" + o.msgid_host + ">\n";
    out.block += added;
    return out;
}

}  // namespace submit
