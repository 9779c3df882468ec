#include "conduit/recorder/socket_tuple.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace conduit::recorder {

TcpFourTuple socketTuple(const std::string& client, std::uint16_t clientPort,
                         const sockaddr_storage& target) {
  TcpFourTuple t;
  std::array<unsigned char, 16> clientAddr{};
  bool clientV6 = false;
  if (::inet_pton(AF_INET, client.c_str(), clientAddr.data()) != 1) {
    clientV6 = ::inet_pton(AF_INET6, client.c_str(), clientAddr.data()) == 1;
    if (!clientV6) clientAddr = {};  // not an address (the client may send anything): 0.0.0.0
  }
  std::array<unsigned char, 16> server{};
  bool serverV6 = false;
  if (target.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(target);
    std::memcpy(server.data(), &a.sin6_addr, 16);
    serverV6 = true;
    t.targetPort = ntohs(a.sin6_port);
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(target);
    std::memcpy(server.data(), &a.sin_addr, 4);
    t.targetPort = ntohs(a.sin_port);
  }
  auto mapped = [](const std::array<unsigned char, 16>& v4) {
    std::array<unsigned char, 16> v6{};
    v6[10] = 0xff;
    v6[11] = 0xff;
    std::copy_n(v4.begin(), 4, v6.begin() + 12);
    return v6;
  };
  t.ipv6 = clientV6 || serverV6;
  t.clientAddress = t.ipv6 && !clientV6 ? mapped(clientAddr) : clientAddr;
  t.targetAddress = t.ipv6 && !serverV6 ? mapped(server) : server;
  t.clientPort = clientPort;
  return t;
}

}  // namespace conduit::recorder
