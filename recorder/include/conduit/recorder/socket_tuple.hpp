#pragma once

// Apart from record.hpp: this one needs the socket headers, which the recording format does not.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "conduit/recorder/record.hpp"

namespace conduit::recorder {

/// The 4-tuple the recording and the pcap export show for a relayed TCP connection: `client`
/// (the vendor's address as text; anything that is not an IPv4 or IPv6 address, which a client
/// may send, is shown as 0.0.0.0) and `clientPort` as the client, the endpoint the broker
/// connected to as the target. Mixed families are shown as IPv6 (IPv4-mapped). Cannot fail.
TcpFourTuple socketTuple(const std::string& client, std::uint16_t clientPort,
                         const sockaddr_storage& target);

}  // namespace conduit::recorder
