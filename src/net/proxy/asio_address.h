// km's IpAddress and Endpoint to and from Asio's address types (private to the proxy).
#pragma once

#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "net/address.h"

namespace km::net::proxy {

inline boost::asio::ip::address toAsio(const IpAddress& ip) {
  if (ip.v6) {
    boost::asio::ip::address_v6::bytes_type b;
    std::copy(ip.bytes.begin(), ip.bytes.end(), b.begin());
    return boost::asio::ip::address_v6(b);
  }
  return boost::asio::ip::address_v4(
      boost::asio::ip::address_v4::bytes_type{ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]});
}

inline IpAddress fromAsio(const boost::asio::ip::address& a) {
  IpAddress out;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else {
    auto b = a.to_v6().to_bytes();
    out.v6 = true;
    std::copy(b.begin(), b.end(), out.bytes.begin());
  }
  return out;
}

}  // namespace km::net::proxy
