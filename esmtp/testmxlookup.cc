// testmxlookup: shows where courieresmtp would send mail for a domain (esmtproutes,
// then MX/A/AAAA through the MTA's resolver), in the order it would try the servers,
// with each DNSSEC-secure host's TLSA records and the DANE decision (RFC 7672).
// SECURITY: an ordinary user command; it reads the configuration and asks DNS.
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <sysexits.h>
#include "config/config.h"
#include "esmtp/outbound_route.h"
#include "lib/paths.h"

namespace {
// One line per secure MX host: its TLSA lookup and what courieresmtp would do.
void print_dane(const outbound::RoutePlan& plan) {
    std::set<std::string> seen;
    for (const auto& t : plan.targets) {
        if (!t.dnssec || plan.dane == outbound::DaneSetting::off || !seen.insert(t.host).second) continue;
        std::string name = outbound::tlsa_name(t.host, t.port);
        auto tlsa = dns::resolver().tlsa(name);
        auto d = outbound::decide_dane(plan.dane, true, &tlsa);
        std::printf("TLSA %s: %zu record(s), %s, DANE: %s (%s)\n", name.c_str(), tlsa.records.size(),
                    tlsa.secure ? "secure" : "insecure", outbound::dane_kind_name(d.kind), d.reason.c_str());
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || argv[1][0] == '-') {
        std::fprintf(stderr, "usage: testmxlookup domain\n");
        return EX_USAGE;
    }
    ConfigDir cfg(paths().config);
    outbound::DnsLookup lookup(cfg.me());
    std::mt19937 rng(std::random_device{}());
    auto plan = outbound::plan_route(argv[1], outbound::load_routes(cfg), lookup, rng);
    std::printf("Domain %s:\n%s", argv[1], outbound::describe_plan(plan).c_str());
    print_dane(plan);
    if (plan.kind == outbound::RoutePlan::Kind::tempfail) return EX_TEMPFAIL;
    return plan.kind == outbound::RoutePlan::Kind::ok ? EX_OK : EX_NOHOST;
}
