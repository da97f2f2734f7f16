# Runs FUZZER for SECONDS from a fresh copy of the SEEDS directories in WORK (and the files
# SEED_TOOL writes into WORK, when given); fails on any crash, leak, sanitizer report or timeout
# (libFuzzer's non-zero exit).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
foreach(dir IN LISTS SEEDS)
  file(GLOB seeds ${dir}/*)
  file(COPY ${seeds} DESTINATION ${WORK})
endforeach()
if(SEED_TOOL)
  execute_process(COMMAND ${SEED_TOOL} ${WORK} RESULT_VARIABLE seeded)
  if(NOT seeded EQUAL 0)
    message(FATAL_ERROR "${SEED_TOOL} could not write the seeds (exit ${seeded})")
  endif()
endif()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10 -max_len=8192
          -artifact_prefix=${WORK}/../ -print_final_stats=1 ${WORK}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${result}); the crashing input is in ${WORK}/..")
endif()
