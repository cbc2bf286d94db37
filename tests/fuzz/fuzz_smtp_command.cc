// Fuzz target: one SMTP command line and the ESMTP parameters of MAIL and RCPT
// (esmtp/smtp_command.h), bytes straight from the network. Invariants: the verb is upper
// case and the arguments carry no line end; parsed parameters written back as
// "K=V ..." parse to the same list; accepted MAIL/RCPT parameters hand submit a line
// without CR or LF; a normalised IDN domain (not an address literal) is ASCII and normalises to itself.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "esmtp/smtp_command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    if (in.find('\n') != std::string::npos) return 0;   // LineReader never returns one
    CommandLine cl = split_command(in);
    for (char c : cl.verb)
        if (c >= 'a' && c <= 'z') std::abort();
    if (cl.args.find('\r') != std::string::npos && in.find('\r') + 1 == in.size()) std::abort();
    (void)max_line_for(cl.verb);
    (void)strip_keyword(cl.args, "FROM:");

    if (auto list = parse_esmtp_params(cl.args)) {
        std::string again;
        for (const auto& p : *list) {
            for (char c : p.keyword)
                if (c >= 'a' && c <= 'z') std::abort();
            if (!again.empty()) again += ' ';
            again += p.keyword;
            if (p.has_value) again += "=" + p.value;
        }
        auto back = parse_esmtp_params(again);
        if (!back || back->size() != list->size()) std::abort();
        for (size_t i = 0; i < list->size(); ++i)
            if ((*back)[i].keyword != (*list)[i].keyword || (*back)[i].value != (*list)[i].value ||
                (*back)[i].has_value != (*list)[i].has_value)
                std::abort();
    }
    std::string reply;
    if (auto m = check_mail_params(cl.args, 10 * 1024 * 1024, &reply)) {
        std::string s = submit_mail_params(*m);
        if (s.find_first_of("\r\n") != std::string::npos) std::abort();
        if (!m->envid.empty() && !valid_xtext(m->envid)) std::abort();
    } else if (reply.empty() || reply.find_first_of("\r\n") != std::string::npos) {
        std::abort();
    }
    reply.clear();
    if (auto r = check_rcpt_params(cl.args, &reply)) {
        if (submit_rcpt_params(*r).find_first_of("\r\n") != std::string::npos) std::abort();
    } else if (reply.empty() || reply.find_first_of("\r\n") != std::string::npos) {
        std::abort();
    }
    (void)valid_utf8(in);
    // Address literals ("[...]") pass through unchecked: parse_mailbox judges them.
    if (auto d = normalize_idn_domain(in); d && in.front() != '[') {
        if (!is_ascii(*d)) std::abort();
        auto d2 = normalize_idn_domain(*d);
        if (!d2 || *d2 != *d) std::abort();
    }
    return 0;
}
