// The common main of makeacceptmailfor and makehosteddomains: read a text file or
// folder from the configuration folder, compile it (accepted_domains.h), report bad
// lines as file:line, and only when there are none replace the database atomically.
#pragma once
#include <string>
#include "submit/accepted_domains.h"

namespace submit {

struct DomainDbTool {
    const char* program;         // for messages and usage
    const char* source;          // name in the configuration folder
    const char* output;          // database name in the configuration folder
    CompiledDomains (*compile)(const std::vector<ConfigLine>&, std::string_view hostname);
};

// Options: -src=path, -out=path, -chk (check only), -dump (print the database).
int run_domain_db_tool(const DomainDbTool& tool, int argc, char** argv);

}  // namespace submit
