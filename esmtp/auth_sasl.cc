// SASL mechanics for SMTP AUTH: see auth_sasl.h.
#include "esmtp/auth_sasl.h"
#include <ctime>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace esmtp {

std::string base64_encode(std::string_view raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || text.size() > 1 << 20) return std::nullopt;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                     c == '/';
        // '=' only as the last one or two characters.
        bool pad = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
        if (!alpha && !pad) return std::nullopt;
    }
    if (text.empty()) return std::string();
    std::string out(text.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t len = static_cast<size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    if (text.back() == '=') --len;
    if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

std::optional<PlainCredentials> parse_plain(std::string_view d) {
    size_t a = d.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    size_t b = d.find('\0', a + 1);
    if (b == std::string_view::npos || d.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    std::string_view authz = d.substr(0, a), user = d.substr(a + 1, b - a - 1), pass = d.substr(b + 1);
    if (user.empty() || pass.empty()) return std::nullopt;
    if (!authz.empty() && authz != user) return std::nullopt;
    return PlainCredentials{std::string(user), std::string(pass)};
}

std::string cram_challenge(std::string_view host) {
    unsigned char r[8];
    if (RAND_bytes(r, sizeof r) != 1) std::abort();   // no randomness: a broken system
    std::string hex;
    static const char digits[] = "0123456789abcdef";
    for (unsigned char c : r) {
        hex += digits[c >> 4];
        hex += digits[c & 15];
    }
    return "<" + hex + "." + std::to_string(std::time(nullptr)) + "@" + std::string(host) + ">";
}

std::optional<CramResponse> parse_cram_response(std::string_view d) {
    size_t sp = d.rfind(' ');
    if (sp == std::string_view::npos || sp == 0) return std::nullopt;
    std::string digest(d.substr(sp + 1));
    if (digest.size() != 32) return std::nullopt;
    for (char& c : digest) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    return CramResponse{std::string(d.substr(0, sp)), digest};
}

std::string hmac_md5_hex(std::string_view key, std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
         text.size(), md, &len);
    std::string hex;
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; ++i) {
        hex += digits[md[i] >> 4];
        hex += digits[md[i] & 15];
    }
    return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace esmtp
