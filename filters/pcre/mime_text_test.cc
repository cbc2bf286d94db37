// Unit tests for the text pcrefilter's rules see: unfolding, QP, base64, MIME walk.
#include <doctest/doctest.h>
#include "filters/pcre/mime_text.h"

using namespace pcrefilter;
using Lines = std::vector<std::string>;

TEST_CASE("unfold_header keeps the whitespace of folding, drops the line ends") {
    CHECK(unfold_header("Subject: a\r\n  long\n\tsubject\n") == "Subject: a  long\tsubject");
    CHECK(unfold_header("X: y") == "X: y");
}

TEST_CASE("quoted-printable: escapes, soft breaks, transport whitespace, junk kept") {
    CHECK(decode_quoted_printable("caf=C3=A9 =3D ok\n") == "caf\xC3\xA9 = ok\n");
    CHECK(decode_quoted_printable("lot=\ntery\n") == "lottery\n");
    CHECK(decode_quoted_printable("lot=  \r\ntery   \r\n") == "lottery\n");
    CHECK(decode_quoted_printable("a=e9b") == "a\xE9" "b");          // lower-case hex
    CHECK(decode_quoted_printable("50=% off =Z1\n") == "50=% off =Z1\n");   // malformed: literal
    CHECK(decode_quoted_printable("end=") == "end");
    CHECK(decode_quoted_printable("x=4") == "x=4");
}

TEST_CASE("base64: line breaks and junk skipped, padding ends, partial group kept") {
    CHECK(decode_base64("bG90dGVy\r\neSB3aW5uZXI=\r\n") == "lottery winner");
    CHECK(decode_base64("aGVs*bG8=") == "hello");
    CHECK(decode_base64("aGVsbG8") == "hello");
    CHECK(decode_base64("") == "");
    CHECK(decode_base64("aGk=trailing") == "hi");
}

TEST_CASE("mime_parameter: quoted, bare, case-insensitive, quoted semicolons") {
    CHECK(mime_parameter("multipart/mixed; boundary=\"a;b c\"", "boundary") == "a;b c");
    CHECK(mime_parameter("multipart/mixed;\n\tBOUNDARY=xyz ; charset=x", "boundary") == "xyz");
    CHECK(mime_parameter("text/plain; charset=\"utf\\\"8\"", "charset") == "utf\"8");
    CHECK(mime_parameter("text/plain; flag; charset=us-ascii", "charset") == "us-ascii");
    CHECK(mime_parameter("text/plain", "charset") == "");
    CHECK(mime_parameter("text/plain; xboundary=1", "boundary") == "");
}

TEST_CASE("a plain message: unfolded headers, body lines without line ends") {
    auto t = extract_text("From: a@b\nSubject: one\n two\n\nline 1\r\nline 2\n");
    CHECK(t.headers == Lines{"From: a@b", "Subject: one two"});
    CHECK(t.body_lines == Lines{"line 1", "line 2"});
    auto no_body = extract_text("Subject: x\n");
    CHECK(no_body.headers == Lines{"Subject: x"});
    CHECK(no_body.body_lines.empty());
}

TEST_CASE("a single-part message in quoted-printable or base64 is decoded") {
    auto qp = extract_text("Content-Type: text/plain\nContent-Transfer-Encoding: Quoted-Printable\n\n"
                           "you are a lot=\ntery winner =3D=3D\n");
    CHECK(qp.body_lines == Lines{"you are a lottery winner =="});
    auto b64 = extract_text("Content-Transfer-Encoding: base64\n\nbG90dGVyeQp3aW5uZXI=\n");
    CHECK(b64.body_lines == Lines{"lottery", "winner"});
}

TEST_CASE("multipart: text parts decoded, other parts skipped, part headers seen") {
    std::string msg =
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"XX\"\n"
        "\n"
        "preamble is not shown\n"
        "--XX\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "c2VjcmV0IHdvcmQ=\n"
        "--XX  \n"
        "Content-Type: image/png\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "c2VjcmV0IGltYWdl\n"
        "--XX\n"
        "Content-Type: text/html\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "--XXY\n"           // a longer boundary: part of the body, not a delimiter
        "<b>bo=\nld</b>\n"
        "--XX--\n"
        "epilogue is not shown\n";
    auto t = extract_text(msg);
    CHECK(t.body_lines == Lines{"secret word", "--XXY", "<b>bold</b>"});
    CHECK(t.headers == Lines{"MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"XX\"",
                             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
                             "Content-Type: image/png", "Content-Transfer-Encoding: base64",
                             "Content-Type: text/html", "Content-Transfer-Encoding: quoted-printable"});
}

TEST_CASE("nested multipart, attached messages and digests are walked") {
    std::string msg =
        "Content-Type: multipart/mixed; boundary=outer\n\n"
        "--outer\n"
        "Content-Type: multipart/alternative; boundary=inner\n\n"
        "--inner\n\nplain part\n--inner--\n"
        "--outer\n"
        "Content-Type: message/rfc822\n\n"
        "Subject: attached\n\nattached body\n"
        "--outer\n"
        "Content-Type: multipart/digest; boundary=d\n\n"
        "--d\n\nSubject: digested\n\ndigest body\n--d--\n"
        "--outer--\n";
    auto t = extract_text(msg);
    CHECK(t.body_lines == Lines{"plain part", "attached body", "digest body"});
    bool saw_attached = false, saw_digested = false;
    for (const auto& h : t.headers) {
        saw_attached |= h == "Subject: attached";
        saw_digested |= h == "Subject: digested";
    }
    CHECK(saw_attached);
    CHECK(saw_digested);
}

TEST_CASE("broken MIME is still shown: no close delimiter, no boundary, deep nesting") {
    auto open_ended = extract_text("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhidden text\n");
    CHECK(open_ended.body_lines == Lines{"hidden text"});
    auto no_boundary = extract_text("Content-Type: multipart/mixed\n\nraw text\n");
    CHECK(no_boundary.body_lines == Lines{"raw text"});
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "Content-Type: message/rfc822\n\n";
    deep += "bottom\n";
    auto t = extract_text(deep);   // bounded: the walk stops, it does not recurse 100 deep
    CHECK(t.body_lines.empty());
}
