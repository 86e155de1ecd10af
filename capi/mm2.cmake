# mm2.cmake - builds libmm2.a from this checkout inside a firmware's CMake
# project. From the firmware's CMakeLists.txt:
#
#   include(path/to/mm2/capi/mm2.cmake)
#   add_executable(firmware ... ${MM2_LEGACY_SOURCES})
#   target_link_libraries(firmware PRIVATE mm2)
#
# It defines the imported target `mm2` (the archive, its include
# directories and the threads library) and MM2_LEGACY_SOURCES, the legacy
# layer, which compiles with the firmware's own include directories (its
# common.h). Go 1.26 or later must be on PATH (or set MM2_GO). When
# cross-compiling, GOARCH follows CMAKE_SYSTEM_PROCESSOR and CC is the
# project's C compiler.
find_package(Threads REQUIRED)
get_filename_component(MM2_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT MM2_GO)
  find_program(MM2_GO go)
  if(NOT MM2_GO)
    message(FATAL_ERROR "mm2: the go command is needed to build libmm2.a (set MM2_GO)")
  endif()
endif()

set(MM2_GOENV CGO_ENABLED=1 "CC=${CMAKE_C_COMPILER}")
if(CMAKE_CROSSCOMPILING)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(arm|armv7)")
    list(APPEND MM2_GOENV GOOS=linux GOARCH=arm GOARM=7)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)")
    list(APPEND MM2_GOENV GOOS=linux GOARCH=arm64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)")
    list(APPEND MM2_GOENV GOOS=linux GOARCH=amd64)
  endif()
endif()

set(MM2_ARCHIVE "${CMAKE_CURRENT_BINARY_DIR}/mm2/libmm2.a")
file(GLOB_RECURSE MM2_GO_SOURCES CONFIGURE_DEPENDS "${MM2_ROOT}/*.go")
add_custom_command(
  OUTPUT "${MM2_ARCHIVE}"
  COMMAND ${CMAKE_COMMAND} -E env ${MM2_GOENV}
          "${MM2_GO}" build -buildmode=c-archive -o "${MM2_ARCHIVE}" ./capi
  WORKING_DIRECTORY "${MM2_ROOT}"
  DEPENDS ${MM2_GO_SOURCES} "${MM2_ROOT}/capi/mm2_core.h" "${MM2_ROOT}/capi/rc_string.c"
  COMMENT "Building libmm2.a"
  VERBATIM)
add_custom_target(mm2_archive DEPENDS "${MM2_ARCHIVE}")
add_library(mm2 STATIC IMPORTED GLOBAL)
add_dependencies(mm2 mm2_archive)
set_target_properties(mm2 PROPERTIES
  IMPORTED_LOCATION "${MM2_ARCHIVE}"
  INTERFACE_INCLUDE_DIRECTORIES "${MM2_ROOT}/capi;${MM2_ROOT}/capi/legacy"
  INTERFACE_LINK_LIBRARIES Threads::Threads)
set(MM2_LEGACY_SOURCES "${MM2_ROOT}/capi/legacy/mm2_api.c" "${MM2_ROOT}/capi/legacy/mm2_v1.c")
