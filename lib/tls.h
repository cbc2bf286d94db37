// TLS contexts and connections over OpenSSL (server side for courieresmtpd, client
// side for courieresmtp): written by the TLS work of issue 3.
#pragma once
