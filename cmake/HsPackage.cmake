# Installing and packaging (docs/packaging.md), included at the end of the top CMakeLists.txt
# after the layers and programs are declared.

# --- libhyperspace-client.so.0 -------------------------------------------------------------
# The hs_client layer and every layer below it, linked into one shared library that exports
# only the API of <hyperspace/client.h>: those layers are compiled with hidden visibility (the
# header marks its classes and functions HYPERSPACE_EXPORT), and the version script
# packaging/libhyperspace-client.map keeps the template instantiations of the standard library,
# Asio and fmt local too. A shared library needs position-independent objects, so these layers
# are compiled with -fPIC; the programs and tests link the same objects (GCC on Debian compiles
# PIE by default, and with hidden visibility -fPIC adds nothing to it: docs/packaging.md has the
# figures).
set(hs_client_layers hs_client)
set(hs_queue hs_client)
while(hs_queue)
  list(POP_FRONT hs_queue hs_layer_name)
  get_property(hs_deps GLOBAL PROPERTY HS_LAYER_${hs_layer_name}_LAYERS)
  foreach(hs_dep IN LISTS hs_deps)
    if(NOT hs_dep IN_LIST hs_client_layers)
      list(APPEND hs_client_layers ${hs_dep})
      list(APPEND hs_queue ${hs_dep})
    endif()
  endforeach()
endwhile()
set_target_properties(${hs_client_layers} PROPERTIES
  POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

set(HS_CLIENT_MAP ${CMAKE_CURRENT_SOURCE_DIR}/packaging/libhyperspace-client.map)
add_library(hyperspace_client SHARED $<TARGET_OBJECTS:hs_client>)
add_library(Hyperspace::client ALIAS hyperspace_client)
# hs_client's own objects are already in; linking the layer brings the layers below it.
target_link_libraries(hyperspace_client PRIVATE hs_client)
target_link_options(hyperspace_client PRIVATE "LINKER:--version-script=${HS_CLIENT_MAP}")
if(NOT HS_SANITIZE AND NOT HS_FUZZ)
  # Every symbol resolved at link time (sanitizer runtimes come from the executable instead).
  target_link_options(hyperspace_client PRIVATE "LINKER:--no-undefined")
endif()
target_include_directories(hyperspace_client INTERFACE
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(hyperspace_client INTERFACE cxx_std_20)
set_target_properties(hyperspace_client PROPERTIES
  OUTPUT_NAME hyperspace-client EXPORT_NAME client
  VERSION ${PROJECT_VERSION} SOVERSION 0
  LINK_DEPENDS ${HS_CLIENT_MAP})

install(TARGETS hyperspace_client EXPORT HyperspaceTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/hyperspace/client.h include/hyperspace/export.h include/hyperspace/asio.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hyperspace)

# --- find_package(Hyperspace CONFIG) -> Hyperspace::client ----------------------------------
include(CMakePackageConfigHelpers)
set(HS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Hyperspace)
install(EXPORT HyperspaceTargets NAMESPACE Hyperspace:: DESTINATION ${HS_CMAKE_DIR})
configure_package_config_file(cmake/HyperspaceConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/HyperspaceConfig.cmake INSTALL_DESTINATION ${HS_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/HyperspaceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/HyperspaceConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/HyperspaceConfigVersion.cmake DESTINATION ${HS_CMAKE_DIR})

# --- pkg-config hyperspace-client ------------------------------------------------------------
# Relocatable: the prefix is found from the .pc file's own folder, so the same file is right
# for `cmake --install --prefix P` and for the Debian package (installed under /usr).
set(HS_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH HS_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
file(RELATIVE_PATH HS_PC_LIBDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_LIBDIR})
file(RELATIVE_PATH HS_PC_INCLUDEDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
string(REGEX REPLACE "/$" "" HS_PC_TO_PREFIX "${HS_PC_TO_PREFIX}")
configure_file(cmake/hyperspace-client.pc.in ${CMAKE_CURRENT_BINARY_DIR}/hyperspace-client.pc
  @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hyperspace-client.pc DESTINATION ${HS_PC_DIR})

# --- man pages and the systemd user unit -----------------------------------------------------
find_program(HS_GZIP gzip REQUIRED)
set(hs_man_pages)
foreach(page hyperspace.1 hyp.1)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/packaging/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/packaging
    COMMAND ${HS_GZIP} -9nc ${CMAKE_CURRENT_SOURCE_DIR}/packaging/${page}
            > ${CMAKE_CURRENT_BINARY_DIR}/packaging/${page}.gz
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/packaging/${page}
    COMMENT "Compressing the man page ${page}")
  list(APPEND hs_man_pages ${CMAKE_CURRENT_BINARY_DIR}/packaging/${page}.gz)
endforeach()
add_custom_target(hs_man_pages ALL DEPENDS ${hs_man_pages})
install(FILES ${hs_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The unit names the daemon by its installed path, which is known only when installing (cpack
# installs under /usr whatever CMAKE_INSTALL_PREFIX was), so it is written then.
install(CODE "
  set(hs_bindir \"${CMAKE_INSTALL_BINDIR}\")
  if(NOT IS_ABSOLUTE \"\${hs_bindir}\")
    set(hs_bindir \"\${CMAKE_INSTALL_PREFIX}/\${hs_bindir}\")
  endif()
  set(HS_BINDIR \"\${hs_bindir}\")
  # One staging file per destination, so that installs to several prefixes may run at once.
  string(MD5 hs_where \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  set(hs_unit \"${CMAKE_CURRENT_BINARY_DIR}/packaging/unit-\${hs_where}/hyperspace.service\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/packaging/hyperspace.service.in\"
    \"\${hs_unit}\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/user\" TYPE FILE
    FILES \"\${hs_unit}\")
  get_filename_component(hs_unit_dir \"\${hs_unit}\" DIRECTORY)
  file(REMOVE_RECURSE \"\${hs_unit_dir}\")
")

# --- cpack -G DEB ------------------------------------------------------------------------------
set(HS_PACKAGE_MAINTAINER "Hyperspace C++ maintainers <maintainers@localhost>" CACHE STRING
  "The Maintainer field of the Debian package")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hyperspace)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${HS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Hyperspace daemon (hyperspace), its CLI (hyp) and C++ client library")
set(CPACK_PACKAGE_DESCRIPTION "A native C++ implementation of the Hyperspace daemon: it stores \
hypercores (Hypercore 9), replicates them with peers (hypercore-protocol 8, Hyperswarm 2 DHT and \
LAN discovery) and serves clients (@hyperspace/client or the C++ libhyperspace-client) over a \
UNIX socket. Includes the hyp command line tool, libhyperspace-client with its headers, CMake \
package and pkg-config file, and a systemd user unit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
include(CPack)
