// Fuzz target: the courierd <-> module line protocol (lib/module_protocol.h), fed
// line by line as a module reads it; results and requests re-formatted must re-parse.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "lib/module_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    RequestParser parser;
    size_t start = 0;
    while (start <= in.size()) {
        size_t nl = in.find('\n', start);
        std::string_view line = std::string_view(in).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        std::string err;
        if (auto req = parser.feed(line, &err)) {
            std::string text = format_request(*req);
            RequestParser p2;
            std::optional<DeliveryRequest> back;
            size_t s = 0;
            while (s < text.size()) {
                size_t e = text.find('\n', s);
                if (auto r = p2.feed(std::string_view(text).substr(s, e - s), nullptr)) back = r;
                s = e + 1;
            }
            if (!back || back->id != req->id || back->rcpts.size() != req->rcpts.size()) std::abort();
        }
        if (auto reply = parse_module_reply(line, &err); reply && reply->kind == ModuleReply::Kind::result) {
            std::string f = format_result(reply->result);
            auto back = parse_module_reply(std::string_view(f).substr(0, f.size() - 1), nullptr);
            if (!back || back->result.text != reply->result.text) std::abort();
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    return 0;
}
