// The relay rules of relay_rules.h: pure functions, unit-tested case by case against
// the classic open-relay test addresses.
#include "submit/relay_rules.h"

namespace submit {

const char* domain_class_name(DomainClass c) {
    switch (c) {
    case DomainClass::local: return "locals";
    case DomainClass::hosted: return "hosteddomains";
    case DomainClass::accepted: return "esmtpacceptmailfor";
    case DomainClass::foreign: return "foreign";
    }
    return "foreign";
}

std::optional<std::string> routing_in_local_part(std::string_view local) {
    // '@' can only be in a local part that was quoted: "user@elsewhere"@here.
    if (local.find('@') != std::string_view::npos) return "embedded @";
    if (local.find('%') != std::string_view::npos) return "percent hack";
    if (local.find('!') != std::string_view::npos) return "bang path";
    if (local.find(':') != std::string_view::npos) return "source route";
    return std::nullopt;
}

RelayVerdict decide_relay(DomainClass cls, std::string_view local, bool relay_client) {
    if (relay_client) return {true, "relay client"};
    if (cls == DomainClass::foreign) return {false, "not a local, hosted or accepted domain"};
    if (auto trick = routing_in_local_part(local)) return {false, *trick};
    return {true, domain_class_name(cls)};
}

}  // namespace submit
