# Every third-party dependency is found here, once, from Debian's packages
# (see docs/development.md for the package list; scripts/bootstrap installs them).

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc i18n)
find_package(CLI11 CONFIG QUIET)

pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

# Header-only or plain libraries without a CMake package on Debian 12.
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
find_path(MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp REQUIRED)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_path(CSV_INCLUDE_DIR csv.h REQUIRED)
find_library(CSV_LIBRARY csv REQUIRED)

add_library(rebound_thirdparty_httplib INTERFACE)
target_include_directories(rebound_thirdparty_httplib SYSTEM INTERFACE "${HTTPLIB_INCLUDE_DIR}")
target_link_libraries(rebound_thirdparty_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
# Debian builds cpp-httplib as a split library (libcpp-httplib.so): the header alone does not
# link, and the library's TLS/zlib/brotli defines change class layouts, so take both from its
# pkg-config file.
pkg_check_modules(CPPHTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
target_link_libraries(rebound_thirdparty_httplib INTERFACE PkgConfig::CPPHTTPLIB)
add_library(rebound::httplib ALIAS rebound_thirdparty_httplib)

add_library(rebound_thirdparty_mustache INTERFACE)
target_include_directories(rebound_thirdparty_mustache SYSTEM INTERFACE "${MUSTACHE_INCLUDE_DIR}")
add_library(rebound::mustache ALIAS rebound_thirdparty_mustache)

add_library(rebound_thirdparty_cli11 INTERFACE)
target_include_directories(rebound_thirdparty_cli11 SYSTEM INTERFACE "${CLI11_INCLUDE_DIR}")
add_library(rebound::cli11 ALIAS rebound_thirdparty_cli11)

add_library(rebound_thirdparty_csv INTERFACE)
target_include_directories(rebound_thirdparty_csv SYSTEM INTERFACE "${CSV_INCLUDE_DIR}")
target_link_libraries(rebound_thirdparty_csv INTERFACE "${CSV_LIBRARY}")
add_library(rebound::csv ALIAS rebound_thirdparty_csv)

if(REBOUND_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(REBOUND_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()

message(STATUS "Rebound: gRPC ${gRPC_VERSION}, protobuf ${Protobuf_VERSION}, "
               "librdkafka ${RDKAFKA_VERSION}, hiredis ${HIREDIS_VERSION}, spdlog ${spdlog_VERSION}")
