#include <catch2/catch.hpp>

#include "proxy/smtp_extension_probe.h"

using podgate::proxy::common_extensions;
using podgate::proxy::fallback_extensions;
using Extensions = std::vector<std::string>;

TEST_CASE("Only what every pod offers is promised, with the smallest SIZE", "[smtp_extensions]") {
  Extensions postfix = {
      "PIPELINING", "SIZE 31457280", "ETRN",     "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES",
      "8BITMIME",   "DSN",           "SMTPUTF8", "CHUNKING",         "XCLIENT NAME ADDR PORT HELO"};
  Extensions small = {"PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS"};
  auto common = common_extensions({postfix, small});
  CHECK(common == Extensions{"8BITMIME", "ENHANCEDSTATUSCODES", "PIPELINING", "SIZE 10240000"});
  // AUTH, XCLIENT, STARTTLS and ETRN are never passed on.
  auto only_postfix = common_extensions({postfix});
  CHECK(std::count(only_postfix.begin(), only_postfix.end(), "CHUNKING") == 0);
  CHECK(std::count(only_postfix.begin(), only_postfix.end(), "SMTPUTF8") == 1);
  for (const auto& extension : only_postfix) {
    CHECK(extension.rfind("AUTH", 0) != 0);
    CHECK(extension.rfind("XCLIENT", 0) != 0);
    CHECK(extension != "ETRN");
  }
}

TEST_CASE("SIZE without a limit, and no answers at all", "[smtp_extensions]") {
  CHECK(common_extensions({{"SIZE"}, {"SIZE 5000"}}) == Extensions{"SIZE 5000"});
  CHECK(common_extensions({{"SIZE"}}) == Extensions{"SIZE"});
  CHECK(common_extensions({}) == fallback_extensions());
}
