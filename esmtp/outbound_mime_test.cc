// Unit tests for the 8-bit to 7-bit conversion (outbound_mime.h).
#include <doctest/doctest.h>
#include "esmtp/outbound_mime.h"
#include "esmtp/outbound_smtp.h"

using namespace outbound;

TEST_CASE("quoted-printable: 8-bit bytes, '=', trailing space, long lines") {
    CHECK(quoted_printable("caf\xc3\xa9 = ok\n") == "caf=C3=A9 =3D ok\n");
    CHECK(quoted_printable("end space \n") == "end space=20\n");
    std::string longline(100, 'a');
    std::string qp = quoted_printable(longline + "\n");
    CHECK(qp == std::string(75, 'a') + "=\n" + std::string(25, 'a') + "\n");
}

TEST_CASE("7-bit conversion: a single-part message") {
    std::string m = "Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n";
    auto c = convert_to_7bit(m);
    REQUIRE(c);
    CHECK_FALSE(has_8bit(*c));
    CHECK(c->find("Content-Transfer-Encoding: quoted-printable\n") != std::string::npos);
    CHECK(c->find("8bit") == std::string::npos);
    CHECK(c->find("MIME-Version: 1.0\n") == 0);
    CHECK(c->find("\n\ncaf=C3=A9\n") != std::string::npos);
}

TEST_CASE("7-bit conversion: only the 8-bit part of a multipart changes") {
    std::string m =
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n"
        "--b1\nContent-Type: text/plain\n\nplain part\n"
        "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\xc3\xa9t\xc3\xa9\n"
        "--b1--\nepilogue\n";
    auto c = convert_to_7bit(m);
    REQUIRE(c);
    CHECK_FALSE(has_8bit(*c));
    CHECK(c->find("--b1\nContent-Type: text/plain\n\nplain part\n--b1\n") != std::string::npos);
    CHECK(c->find("=C3=A9t=C3=A9\n--b1--\nepilogue\n") != std::string::npos);
    CHECK(c->find("MIME-Version") == 0);
}

TEST_CASE("7-bit conversion: impossible cases") {
    CHECK_FALSE(convert_to_7bit("Subject: caf\xc3\xa9\n\nbody\n"));   // 8-bit header
    CHECK_FALSE(convert_to_7bit("Content-Transfer-Encoding: binary\n\n\xff\n"));
    CHECK_FALSE(convert_to_7bit("Content-Type: multipart/mixed; boundary=x\n\n--x\n\n\xff\n"));   // unterminated
    CHECK(convert_to_7bit("Subject: plain\n\nascii\n") == std::string("Subject: plain\n\nascii\n"));
    // A CR before LF is data in the LF-ended queue: kept, as =0D.
    CHECK(quoted_printable("a\r\nb\r\r\n") == "a=0D\nb=0D=0D\n");
    // 8-bit text in the preamble cannot be converted (it is copied as it is): found by
    // fuzzing, tests/fuzz/regressions/outbound_mime/preamble_8bit.
    CHECK_FALSE(convert_to_7bit("Content-Type: multipart/mixed; boundary=x\n\ncaf\xc3\xa9\n--x\n\nok\n--x--\n"));
}
