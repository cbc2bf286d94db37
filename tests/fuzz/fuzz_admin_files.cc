// Fuzz target: the administrator's policy and filter files added with issues 10 and
// 11: bofh, esmtphelopatterns (and matching a HELO name against them), pcrefilter
// rules, ratelimit rules, enablefiltering, and the filter envelope file.
#include <cstdint>
#include <string>
#include <vector>
#include "esmtp/smtpd_guards.h"
#include "filters/filter_protocol.h"
#include "filters/pcre/rules.h"
#include "filters/ratelimit.h"
#include "lib/paths.h"
#include "submit/bofh.h"

// The parsers read no files; bofh.cc links against paths() for BofhConfig::load only.
const Paths& paths() {
    static const Paths p{};
    return p;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    submit::BofhConfig bofh;
    bofh.parse(in, "bofh");
    std::vector<std::string> errors;
    HeloPatterns helo = HeloPatterns::parse(in, "esmtphelopatterns", &errors);
    (void)helo.match(in.substr(0, in.find('\n')));
    (void)plausible_helo_name(in);
    (void)parse_etrn_argument(in);
    (void)pcrefilter::parse_rules(in, "pcrefilter");
    (void)ratelimit::parse_rate_rules(in, "ratelimit");
    (void)courierfilter::parse_enablefiltering(in, "enablefiltering");
    (void)courierfilter::parse_envelope_file(in);
    return 0;
}
