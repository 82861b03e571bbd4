# The layer graph of docs/architecture.md, declared once and enforced by the build.
#
# hs_layer(<name> [SOURCES <file.cpp>...] [HEADERS <file.h>...] [LAYERS <layer>...]
#          [EXTERNAL <imported target>...])
#   Creates the static library <name> from SOURCES and links it PUBLIC to LAYERS (layers declared
#   before it, so the graph has no cycles) and to EXTERNAL targets. The layer owns its SOURCES,
#   the header next to each source (x.cpp -> x.h) and the header-only files in HEADERS.
# hs_program(<name> SOURCES <file.cpp>... LAYERS <layer>...)
#   An executable on top of the layers; its sources are checked like a layer's.
# hs_layers_check()
#   After the last layer: writes the graph to ${CMAKE_BINARY_DIR}/hs_layers.cmake and adds the
#   check (cmake/check_layers.cmake) as a step that every layer waits for, so `cmake --build`
#   fails when a file #includes a header of a layer its own layer does not depend on (directly or
#   through the layers below), or a third-party header (<asio/...>, <spdlog/...>, ...) of a
#   library its layer does not link. Sets HS_LAYERS_MANIFEST (the graph's file) for the tests.
#
# Every file under src/ and apps/ must belong to exactly one layer or program.

# Which third-party include prefixes belong to which linked target. An #include <p...> whose path
# starts with a prefix here needs that target in the layer's (transitive) EXTERNAL list; other
# angle-bracket includes (the standard library, POSIX) are not checked.
set(HS_EXTERNAL_PREFIXES
  "asio=hs_asio"
  "sodium=PkgConfig::SODIUM"
  "fmt/=fmt::fmt"
  "spdlog/=spdlog::spdlog"
  "nlohmann/=nlohmann_json::nlohmann_json"
  "CLI/=CLI11::CLI11")
set(HS_LAYER_SCAN_DIRS src apps)
set_property(GLOBAL PROPERTY HS_LAYERS "")

function(_hs_layer_record name kind)
  cmake_parse_arguments(L "" "" "SOURCES;HEADERS;LAYERS;EXTERNAL" ${ARGN})
  get_property(known GLOBAL PROPERTY HS_LAYERS)
  set(allowed ${name})
  set(external ${L_EXTERNAL})
  foreach(dep IN LISTS L_LAYERS)
    if(NOT dep IN_LIST known)
      message(FATAL_ERROR "${kind} ${name}: LAYERS names '${dep}', which is not a layer declared "
        "before it (declare the lower layer first; the graph may not have cycles)")
    endif()
    get_property(dep_kind GLOBAL PROPERTY HS_LAYER_${dep}_KIND)
    if(dep_kind STREQUAL "program")
      message(FATAL_ERROR "${kind} ${name}: '${dep}' is a program, not a layer")
    endif()
    get_property(dep_allowed GLOBAL PROPERTY HS_LAYER_${dep}_ALLOWED)
    get_property(dep_external GLOBAL PROPERTY HS_LAYER_${dep}_EXTERNAL)
    list(APPEND allowed ${dep_allowed})
    list(APPEND external ${dep_external})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  list(REMOVE_DUPLICATES external)
  set(files ${L_HEADERS})
  foreach(src IN LISTS L_SOURCES)
    list(APPEND files ${src})
    string(REGEX REPLACE "\\.cpp$" ".h" header "${src}")
    if(NOT header STREQUAL src AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${header})
      list(APPEND files ${header})
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY HS_LAYERS ${name})
  set_property(GLOBAL PROPERTY HS_LAYER_${name}_KIND ${kind})
  set_property(GLOBAL PROPERTY HS_LAYER_${name}_FILES ${files})
  set_property(GLOBAL PROPERTY HS_LAYER_${name}_LAYERS ${L_LAYERS})
  set_property(GLOBAL PROPERTY HS_LAYER_${name}_ALLOWED ${allowed})
  set_property(GLOBAL PROPERTY HS_LAYER_${name}_EXTERNAL ${external})
endfunction()

function(hs_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;HEADERS;LAYERS;EXTERNAL" ${ARGN})
  _hs_layer_record(${name} layer ${ARGN})
  add_library(${name} STATIC ${L_SOURCES} ${L_HEADERS})
  target_link_libraries(${name} PUBLIC ${L_LAYERS} ${L_EXTERNAL})
endfunction()

function(hs_program name)
  cmake_parse_arguments(L "" "" "SOURCES;LAYERS;EXTERNAL" ${ARGN})
  _hs_layer_record(${name} program ${ARGN})
  add_executable(${name} ${L_SOURCES})
  target_link_libraries(${name} PRIVATE ${L_LAYERS} ${L_EXTERNAL})
endfunction()

function(hs_layers_check)
  get_property(layers GLOBAL PROPERTY HS_LAYERS)
  set(manifest "# Written by hs_layers_check() (cmake/HsLayers.cmake); read by cmake/check_layers.cmake.\n")
  string(APPEND manifest "set(HS_SCAN_DIRS \"${HS_LAYER_SCAN_DIRS}\")\n")
  string(APPEND manifest "set(HS_EXTERNAL_PREFIXES \"${HS_EXTERNAL_PREFIXES}\")\n")
  string(APPEND manifest "set(HS_LAYERS \"${layers}\")\n")
  set(all_files)
  foreach(layer IN LISTS layers)
    foreach(field KIND FILES LAYERS ALLOWED EXTERNAL)
      get_property(value GLOBAL PROPERTY HS_LAYER_${layer}_${field})
      string(APPEND manifest "set(HS_LAYER_${layer}_${field} \"${value}\")\n")
    endforeach()
    get_property(files GLOBAL PROPERTY HS_LAYER_${layer}_FILES)
    foreach(f IN LISTS files)
      list(APPEND all_files ${CMAKE_CURRENT_SOURCE_DIR}/${f})
    endforeach()
  endforeach()
  set(manifest_file ${CMAKE_BINARY_DIR}/hs_layers.cmake)
  file(GENERATE OUTPUT ${manifest_file} CONTENT "${manifest}")
  set(script ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_layers.cmake)
  set(stamp ${CMAKE_BINARY_DIR}/hs_layers.stamp)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DMANIFEST=${manifest_file} -DROOT=${CMAKE_CURRENT_SOURCE_DIR}
            -P ${script}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${script} ${manifest_file} ${all_files}
    COMMENT "Checking the layer graph (docs/architecture.md)"
    VERBATIM)
  add_custom_target(hs_layers_check ALL DEPENDS ${stamp})
  foreach(layer IN LISTS layers)
    add_dependencies(${layer} hs_layers_check)
  endforeach()
  # tests/CMakeLists.txt runs the same check as the ctest layers_check.
  set(HS_LAYERS_MANIFEST ${manifest_file} PARENT_SCOPE)
endfunction()
