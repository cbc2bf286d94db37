// Forwarding from delivery instructions ("&address" lines of dot-courier(5)).
// The delivery child runs as the recipient, who cannot write the spool; submit must
// run as the mail user. So before the child becomes the recipient it forks: the
// recipient's process sends forward requests over a socket to its sibling, which has
// dropped to the mail user and enters the queue through SubmitClient (source
// "forward"). The sibling takes only the recipient index and the new addresses from
// the request: the envelope sender (kept, as Courier does) and the message come from
// the queue file it holds itself, so the recipient cannot inject other content.
// The forwarded copy starts with "Delivered-To: <recipient>", which lets loops be
// detected (count_delivered_to) when it comes back.
// Socket records (internal to courierlocal): request
//   "forward <index> <xtext address> [<xtext address> ...]\n", reply "<code> <text>\n".
#pragma once
#include <string>
#include <vector>
#include "lib/module_protocol.h"
#include "lib/submit_client.h"

namespace local {

// The recipient's side: one request, one reply (451 when the sibling is gone).
SubmitReply request_forward(int sock, size_t index, const std::vector<std::string>& addresses);

// The mail user's side: answers requests on `sock` until EOF. Returns 0.
int serve_forwards(int sock, int queue_fd, const DeliveryRequest& req);

}  // namespace local
