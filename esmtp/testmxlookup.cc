// testmxlookup: shows where courieresmtp would send mail for a domain (esmtproutes,
// then MX/A/AAAA through the MTA's resolver), in the order it would try the servers.
// SECURITY: an ordinary user command; it reads the configuration and asks DNS.
#include <cstdio>
#include <random>
#include <string>
#include <sysexits.h>
#include "config/config.h"
#include "esmtp/outbound_route.h"
#include "lib/paths.h"

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
    if (plan.kind == outbound::RoutePlan::Kind::tempfail) return EX_TEMPFAIL;
    return plan.kind == outbound::RoutePlan::Kind::ok ? EX_OK : EX_NOHOST;
}
