# cmake -DCHECK=<cmake/check_layers.cmake> -DFIXTURE=<tests/layers/fixture> -P check_layers_test.cmake
#
# The layer check must fail on an include that reaches up and on a third-party header the layer
# does not link, naming the file and line, the include and the rule; and must pass on the same
# files under a graph that allows them.

cmake_minimum_required(VERSION 3.22)

function(run manifest out_rc out_text)
  execute_process(COMMAND ${CMAKE_COMMAND} -DMANIFEST=${FIXTURE}/${manifest} -DROOT=${FIXTURE}
                          -P ${CHECK}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

run(bad.cmake rc text)
if(rc EQUAL 0)
  message(FATAL_ERROR "the check passed on a fixture that includes a higher layer:\n${text}")
endif()
foreach(expected
    "src/low/low.cpp:6: #include \"high/high.h\": low may not use high (src/high/high.h)"
    "low may include only low."
    "src/low/low.cpp:8: #include <asio/io_context.hpp>: low does not link hs_asio"
    "layer check: 2 violation(s)")
  string(FIND "${text}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected \"${expected}\" in the check's output:\n${text}")
  endif()
endforeach()

run(good.cmake rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the check failed on a fixture its graph allows:\n${text}")
endif()
message(STATUS "layer check: rejects the bad fixture, accepts the good one")
