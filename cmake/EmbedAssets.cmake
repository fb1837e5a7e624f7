# voicegate_embed_assets(OUTPUT FILES URLS): generates a C++ file defining
# voicegate::web::find_asset(path) over FILES (absolute paths), each served at the path of the
# same index in URLS (e.g. "/dashboard/dashboard.js").
function(voicegate_embed_assets output files urls)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} "-DFILES=${files}" "-DURLS=${urls}"
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_assets_script.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed_assets_script.cmake
    COMMENT "Embedding web assets"
    VERBATIM)
endfunction()

# voicegate_mount_assets(FILES_VAR URLS_VAR DIR PREFIX): appends the web files under DIR
# (.html .js .css .svg, recursively) to FILES_VAR, served at PREFIX + their path relative to DIR.
function(voicegate_mount_assets files_var urls_var dir prefix)
  file(GLOB_RECURSE found CONFIGURE_DEPENDS ${dir}/*.html ${dir}/*.js ${dir}/*.css ${dir}/*.svg)
  list(SORT found)
  set(files ${${files_var}})
  set(urls ${${urls_var}})
  foreach(f IN LISTS found)
    file(RELATIVE_PATH rel ${dir} ${f})
    list(APPEND files ${f})
    list(APPEND urls "${prefix}${rel}")
  endforeach()
  set(${files_var} ${files} PARENT_SCOPE)
  set(${urls_var} ${urls} PARENT_SCOPE)
endfunction()
