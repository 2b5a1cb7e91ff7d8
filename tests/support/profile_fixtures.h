// Profile texts shared by the profile tests.
#pragma once

#include <string_view>

namespace km::test {

// A complete, valid profile named "base": every required section present, so a child that
// extends it validates with no errors and only the fields a test changes differ.
inline constexpr std::string_view kCompleteProfile = R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: base
spec:
  lifecycle: {ttl: 4h, idleTimeout: 1h, teardownPolicy: destroy}
  runtime: {substrate: ec2, instanceType: t3.small, region: us-east-1}
  execution: {shell: /bin/bash, workingDir: /workspace}
  sourceAccess: {mode: none}
  network:
    egress:
      allowedDNSSuffixes: [.base.example]
      allowedHosts: [base.example.com]
  iam: {roleSessionDuration: 1h, allowedRegions: [us-east-1]}
  sidecars:
    dnsProxy: {enabled: true, image: d}
    httpProxy: {enabled: true, image: h}
    auditLog: {enabled: true, image: a}
    tracing: {enabled: true, image: t}
  observability:
    commandLog: {destination: stdout}
    networkLog: {destination: stdout}
)";

}  // namespace km::test
