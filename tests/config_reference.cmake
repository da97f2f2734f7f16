# ctest ConfigReference: fails when the checked-in docs/config.md is not what
# `hotgate --print-config-reference` prints, i.e. a schema table changed and the reference was
# not regenerated. Regenerate with: build-test/bin/hotgate --print-config-reference > docs/config.md
#   cmake -DHOTGATE=<hotgate binary> -DREFERENCE=<docs/config.md> -DPRINTED=<scratch file> -P config_reference.cmake
execute_process(COMMAND ${HOTGATE} --print-config-reference
                OUTPUT_FILE ${PRINTED}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${HOTGATE} --print-config-reference failed: ${status}")
endif()
execute_process(COMMAND diff -u ${REFERENCE} ${PRINTED} RESULT_VARIABLE differs)
if(NOT differs EQUAL 0)
  message(FATAL_ERROR "${REFERENCE} is not what `hotgate --print-config-reference` prints (diff above); "
                      "regenerate it: ${HOTGATE} --print-config-reference > ${REFERENCE}")
endif()
