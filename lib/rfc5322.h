// RFC 5322 header and address parsing (From/To/Cc/Bcc, unfolding), owned by issue 4.
#pragma once
