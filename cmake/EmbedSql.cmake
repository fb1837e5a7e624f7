# voicegate_add_sql_library(OUTPUT_DIR NAME NAMESPACE FILES): generates OUTPUT_DIR/NAME.hpp and
# OUTPUT_DIR/NAME.cpp (as userver's userver_add_sql_library does), declaring and defining one
# `std::string_view` constant in NAMESPACE per .sql file of FILES, named after the file
# (`end_session.sql` -> `end_session`). Lines starting with `--` are comments and dropped; the
# others are joined with single spaces, so a statement may be wrapped freely. Sets NAME_SOURCES
# in the caller to the generated .cpp; the target NAME_generated makes both files.
function(voicegate_add_sql_library output_dir name namespace files)
  set(hpp ${output_dir}/${name}.hpp)
  set(cpp ${output_dir}/${name}.cpp)
  add_custom_command(
    OUTPUT ${hpp} ${cpp}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT_DIR=${output_dir} -DNAME=${name} -DNAMESPACE=${namespace}
            "-DFILES=${files}" -P ${CMAKE_SOURCE_DIR}/cmake/embed_sql_script.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed_sql_script.cmake
    COMMENT "Embedding SQL (${name})"
    VERBATIM)
  # A target of its own, so tools that read the sources without building them (clang-tidy in
  # scripts/lint.sh) can have the generated header made first.
  add_custom_target(${name}_generated DEPENDS ${hpp} ${cpp})
  set(${name}_SOURCES ${cpp} PARENT_SCOPE)
endfunction()
