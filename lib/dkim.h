// DomainKeys Identified Mail (RFC 6376) with OpenSSL's EVP interface: canonicalisation
// (simple and relaxed, 3.4), the tag lists of DKIM-Signature: and of key records (3.2,
// 3.5, 3.6.1), signing and verifying with rsa-sha256 and ed25519-sha256 (RFC 8463).
// Canonicalisation and parsing are pure functions; the one lookup (the key record's
// TXT) is a function the caller passes in, dns::resolver() by default. Messages are
// given with LF or CRLF line ends; what is hashed always uses CRLF, as the RFC says.
#pragma once
#include <openssl/evp.h>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/dns.h"
#include "lib/result.h"

namespace dkim {

enum class Canon { simple, relaxed };
enum class KeyType { rsa, ed25519 };

// ---- canonicalisation (RFC 6376 3.4) -------------------------------------------------
// One header field as written (name, colon, value, folded lines and their line end):
// simple keeps it byte for byte (line ends made CRLF); relaxed lower-cases the name,
// unfolds, turns runs of WSP into one space and trims around the colon and at the end.
// The result ends in CRLF.
std::string canon_header(Canon c, std::string_view field);
// The body (everything after the empty line): trailing empty lines removed, CRLF line
// ends; relaxed also drops WSP at line ends and turns WSP runs into one space. An empty
// body is "\r\n" for simple and "" for relaxed (RFC 6376 3.4.3, 3.4.4, errata 3192).
std::string canon_body(Canon c, std::string_view body);
// "relaxed/simple" -> {relaxed, simple}; "relaxed" alone -> {relaxed, simple}.
std::optional<std::pair<Canon, Canon>> parse_canon(std::string_view text);
std::string canon_name(Canon c);

// A message split at the first empty line: the header fields (raw, in order) and the body.
struct SplitMessage {
    std::vector<std::string_view> fields;   // each field's raw text, with its line end(s)
    std::string_view body;                  // after the empty line ("" when none)
};
SplitMessage split_message(std::string_view message);
// The field name of a raw field ("" when there is no colon).
std::string_view field_name(std::string_view field);
// The value of a raw field after the colon, unfolded and trimmed.
std::string field_value(std::string_view field);

// ---- tag lists (RFC 6376 3.2) --------------------------------------------------------
// "tag=value; tag=value": names ALPHA *(ALNUM / "_"), values without ';', folding
// whitespace around names and values removed. A repeated tag, a bad name or more than
// 64 tags is an error (strict, 3.2: "Tags MUST NOT be duplicated").
using TagList = std::map<std::string, std::string, std::less<>>;
Result<TagList> parse_tag_list(std::string_view text);
// Base64 with embedded FWS allowed (RFC 6376 2.4 "base64string"); nullopt if invalid.
std::optional<std::string> decode_base64(std::string_view text);
std::string encode_base64(std::string_view data);

// ---- DKIM-Signature (RFC 6376 3.5) ---------------------------------------------------
struct Signature {
    KeyType key_type = KeyType::rsa;   // from a=
    Canon header_canon = Canon::simple, body_canon = Canon::simple;
    std::string domain;                // d= (lower case)
    std::string selector;              // s=
    std::vector<std::string> headers;  // h= (lower case, in order; From among them)
    std::string body_hash;             // bh= (binary)
    std::string signature;             // b= (binary)
    std::string b_text;                // b= as written, whitespace removed (for header.b=)
    std::optional<uint64_t> length;    // l=
    std::optional<std::time_t> timestamp, expiration;   // t=, x=
    std::string identity;              // i= ("@d" when absent)
};
// A DKIM-Signature: value; errors say which tag is wrong (for dkim=permerror).
Result<Signature> parse_signature(std::string_view value);

// ---- key records (RFC 6376 3.6.1) ----------------------------------------------------
struct KeyRecord {
    KeyType key_type = KeyType::rsa;   // k= (default rsa)
    std::string public_key;            // p= decoded: RSA SubjectPublicKeyInfo DER, Ed25519 raw 32 bytes
    bool revoked = false;              // p= empty
    bool testing = false;              // t=y
    bool strict = false;               // t=s: i= must be exactly d=
    std::vector<std::string> hashes;   // h= (empty: any)
};
Result<KeyRecord> parse_key_record(std::string_view text);
// The TXT record text for a public key ("v=DKIM1; k=rsa; p=...").
std::string format_key_record(KeyType type, std::string_view public_key);

// ---- keys ----------------------------------------------------------------------------
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct PrivateKey {
    Pkey key;
    KeyType type = KeyType::rsa;
};
Result<PrivateKey> load_private_key(const std::string& path);   // PEM, RSA or Ed25519
Result<PrivateKey> parse_private_key(std::string_view pem);
Result<PrivateKey> generate_key(KeyType type, int rsa_bits);
std::string private_key_pem(const PrivateKey& key);
// What goes into p=: SubjectPublicKeyInfo DER for RSA, the raw key for Ed25519.
std::string public_key_bytes(const PrivateKey& key);

// ---- signing -------------------------------------------------------------------------
// The header fields a signer covers when present (RFC 6376 5.4.1), From first.
const std::vector<std::string>& default_signed_headers();

struct SignOptions {
    std::string domain, selector;
    Canon header_canon = Canon::relaxed, body_canon = Canon::relaxed;
    std::vector<std::string> headers = default_signed_headers();   // signed when present
    std::vector<std::string> oversign = {"from"};   // listed once more than present (5.4.2)
    std::time_t now = 0;                            // t= (0: no t=)
};
// The h= list for a message: each name in `headers` once per occurrence, oversigned
// names once more; "from" always. Lower case.
std::vector<std::string> select_headers(const SplitMessage& m, const SignOptions& opts);
// The DKIM-Signature: field to prepend (folded, LF line ends, ends in LF); an error
// when the message has no From: or the key cannot sign.
Result<std::string> sign(std::string_view message, const SignOptions& opts, const PrivateKey& key);

// ---- verifying -----------------------------------------------------------------------
enum class Verdict { pass, fail, neutral, policy, temperror, permerror };
std::string_view verdict_name(Verdict v);   // RFC 8601 words

struct VerifyResult {
    Verdict verdict = Verdict::permerror;
    std::string domain, selector;   // d=, s= ("" when the signature did not parse)
    std::string b_prefix;           // the first 8 characters of b= (RFC 8601 header.b)
    std::string identity;           // i=
    std::string reason;             // for the log and the header comment
};

using TxtLookup = std::function<dns::Answer<std::string>(const std::string&)>;
TxtLookup resolver_txt();   // dns::resolver().txt

// Checks the first `max_signatures` DKIM-Signature: fields of a message, top down.
std::vector<VerifyResult> verify(std::string_view message, const TxtLookup& lookup, std::time_t now,
                                 size_t max_signatures = 5);

}  // namespace dkim
