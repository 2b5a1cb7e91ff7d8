// A Beast request head as the proxy's checks read it (request_head.h): views into the
// message, valid while it is. Header-only so the fuzz target reads heads exactly as the
// proxy does.
#pragma once

#include <string_view>

#include "net/proxy/request_head.h"

namespace km::net::proxy {

template <class Message>
RequestHead headOf(const Message& m) {
  RequestHead h;
  h.method = std::string_view(m.method_string().data(), m.method_string().size());
  h.target = std::string_view(m.target().data(), m.target().size());
  h.version = m.version();
  for (const auto& f : m) {
    h.fields.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                          std::string_view(f.value().data(), f.value().size()));
  }
  return h;
}

}  // namespace km::net::proxy
