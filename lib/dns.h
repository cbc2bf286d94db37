// The MTA's resolver: MX, A/AAAA, TXT, PTR (and TLSA later) through libunbound,
// pointable at a test server on a loopback port: written by issue 9.
#pragma once
