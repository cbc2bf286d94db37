// Fuzz target: the DATA stream (esmtp/smtp_data.h). The same bytes are fed once whole
// and once cut into chunks whose sizes come from the first input bytes. The end of
// data (how many bytes were consumed), the verdict, the size and the collected message
// must not depend on how the bytes were split; BDAT (raw) mode likewise. (The collected
// bytes of a refused message are not compared: see same().)
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include "esmtp/smtp_data.h"

namespace {

struct Outcome {
    size_t consumed = 0;
    bool done = false;
    DataReceiver::Verdict verdict = DataReceiver::Verdict::ok;
    uint64_t size = 0;
    std::string message;
};

Outcome run(DataReceiver d, std::string_view stream, std::string_view cuts, bool raw) {
    Outcome o;
    size_t k = 0;
    while (o.consumed < stream.size() && !d.done()) {
        size_t n = stream.size() - o.consumed;
        if (!cuts.empty()) {
            n = std::min<size_t>(n, 1 + static_cast<unsigned char>(cuts[k++ % cuts.size()]) % 17);
        }
        size_t used = d.feed(stream.substr(o.consumed, n));
        if (used > n) std::abort();
        if (used < n && !d.done()) std::abort();   // only the end marker stops early
        o.consumed += used;
        o.message += d.take_pending();
    }
    if (raw) d.end_chunks();
    o.message += d.take_pending();
    o.done = d.done();
    o.verdict = d.verdict();
    o.size = d.size();
    return o;
}

bool same(const Outcome& a, const Outcome& b) {
    // Once the verdict is no longer ok nothing more is collected, so what was taken
    // before depends on the chunks; such a message is refused whole and never queued.
    return a.consumed == b.consumed && a.done == b.done && a.verdict == b.verdict && a.size == b.size &&
           (a.verdict != DataReceiver::Verdict::ok || a.message == b.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    size_t ncuts = data[0] % 8;
    if (size < 1 + ncuts) return 0;
    std::string_view cuts(reinterpret_cast<const char*>(data + 1), ncuts);
    std::string_view stream(reinterpret_cast<const char*>(data + 1 + ncuts), size - 1 - ncuts);
    const uint64_t limit = 4096;
    for (bool raw : {false, true}) {
        auto make = [&] { return raw ? DataReceiver::raw(limit) : DataReceiver(limit); };
        Outcome whole = run(make(), stream, {}, raw);
        Outcome bytes = run(make(), stream, std::string_view("\0", 1), raw);
        Outcome split = run(make(), stream, cuts.empty() ? std::string_view("\3", 1) : cuts, raw);
        if (!same(whole, bytes) || !same(whole, split)) std::abort();
        if (whole.verdict == DataReceiver::Verdict::ok && whole.message.size() != whole.size) std::abort();
        if (!raw && whole.done) {
            // Only CRLF.CRLF ends DATA; it ends the consumed bytes (or DATA began with ".CRLF").
            std::string_view used = stream.substr(0, whole.consumed);
            if (!(used.ends_with("\r\n.\r\n") || used == ".\r\n")) std::abort();
        }
    }
    return 0;
}
