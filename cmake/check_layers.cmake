# cmake -DMANIFEST=<build>/hs_layers.cmake -DROOT=<source dir> -P cmake/check_layers.cmake
#
# Checks the layer graph written by hs_layers_check() (cmake/HsLayers.cmake) against the sources:
#   1. every .h/.cpp under the scanned folders belongs to exactly one layer or program;
#   2. an #include "x/y.h" names a file under src/ (all project includes are relative to src/)
#      that belongs to the including file's own layer or to a layer it depends on, directly or
#      through the layers below (code may not reach up or sideways);
#   3. an #include <p...> of a third-party library listed in HS_EXTERNAL_PREFIXES needs that
#      library among the layer's (transitive) EXTERNAL targets (e.g. Asio only in the I/O layers).
# (Messages avoid ";", which CMake would take as a list separator.)
# Prints one line per violation (file:line, the include, the rule) and fails if there is any.

cmake_minimum_required(VERSION 3.22)

if(NOT MANIFEST OR NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DMANIFEST=<hs_layers.cmake> -DROOT=<source dir> -P check_layers.cmake")
endif()
include(${MANIFEST})

set(errors "")
set(nerrors 0)
function(fail)
  string(CONCAT text ${ARGV})
  set(errors "${errors}${text}\n" PARENT_SCOPE)
  math(EXPR n "${nerrors} + 1")
  set(nerrors ${n} PARENT_SCOPE)
endfunction()

# The line number of the first line of `file` that contains `needle` (for messages only).
function(line_of file needle out)
  file(STRINGS ${ROOT}/${file} lines)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    string(FIND "${line}" "${needle}" at)
    if(at GREATER -1)
      set(${out} ${n} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "?" PARENT_SCOPE)
endfunction()

# Owner of every declared file.
foreach(layer IN LISTS HS_LAYERS)
  foreach(f IN LISTS HS_LAYER_${layer}_FILES)
    string(MAKE_C_IDENTIFIER "${f}" id)
    if(DEFINED owner_${id})
      fail("${f}: belongs to both ${owner_${id}} and ${layer}. A file belongs to one layer (CMakeLists.txt)")
    else()
      set(owner_${id} ${layer})
    endif()
  endforeach()
endforeach()

# Rule 1: nothing under the scanned folders is outside the graph.
foreach(dir IN LISTS HS_SCAN_DIRS)
  file(GLOB_RECURSE found RELATIVE ${ROOT} ${ROOT}/${dir}/*.h ${ROOT}/${dir}/*.cpp)
  foreach(f IN LISTS found)
    string(MAKE_C_IDENTIFIER "${f}" id)
    if(NOT DEFINED owner_${id})
      fail("${f}: belongs to no layer. Add it to a layer's SOURCES or HEADERS in CMakeLists.txt")
    endif()
  endforeach()
endforeach()

foreach(layer IN LISTS HS_LAYERS)
  set(allowed ${HS_LAYER_${layer}_ALLOWED})
  set(external ${HS_LAYER_${layer}_EXTERNAL})
  list(JOIN allowed ", " allowed_text)
  foreach(f IN LISTS HS_LAYER_${layer}_FILES)
    if(NOT EXISTS ${ROOT}/${f})
      fail("${f}: listed in ${layer} but missing")
      continue()
    endif()
    file(STRINGS ${ROOT}/${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line IN LISTS includes)
      if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(inc ${CMAKE_MATCH_1})
        string(MAKE_C_IDENTIFIER "src/${inc}" id)
        if(NOT EXISTS ${ROOT}/src/${inc})
          line_of(${f} "${inc}" n)
          fail("${f}:${n}: #include \"${inc}\": no such file under src/ (project includes are written relative to src/)")
        elseif(NOT DEFINED owner_${id})
          line_of(${f} "${inc}" n)
          fail("${f}:${n}: #include \"${inc}\": src/${inc} belongs to no layer")
        elseif(NOT owner_${id} IN_LIST allowed)
          line_of(${f} "${inc}" n)
          fail("${f}:${n}: #include \"${inc}\": ${layer} may not use ${owner_${id}} (src/${inc}). "
               "${layer} may include only ${allowed_text}. Move the code to a lower layer, or if "
               "docs/architecture.md allows the dependency, add ${owner_${id}} to LAYERS of ${layer} in CMakeLists.txt")
        endif()
      elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>")
        set(inc ${CMAKE_MATCH_1})
        foreach(entry IN LISTS HS_EXTERNAL_PREFIXES)
          string(REPLACE "=" ";" pair "${entry}")
          list(GET pair 0 prefix)
          list(GET pair 1 target)
          string(LENGTH "${prefix}" plen)
          string(SUBSTRING "${inc}" 0 ${plen} head)
          if(head STREQUAL prefix AND NOT target IN_LIST external)
            line_of(${f} "${inc}" n)
            fail("${f}:${n}: #include <${inc}>: ${layer} does not link ${target} (neither it nor a layer "
                 "below it lists it in EXTERNAL). Keep ${target} out of this layer, or add it to "
                 "EXTERNAL of ${layer} in CMakeLists.txt if docs/architecture.md allows it")
          endif()
        endforeach()
      endif()
    endforeach()
  endforeach()
endforeach()

if(nerrors GREATER 0)
  message("${errors}")
  message(FATAL_ERROR "layer check: ${nerrors} violation(s) of the layer graph (docs/architecture.md \"Layers\")")
endif()
