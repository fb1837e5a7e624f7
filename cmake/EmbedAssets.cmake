# voicegate_embed_assets(OUTPUT ROOT FILES): generates a C++ file defining
# voicegate::web::find_asset(path) over FILES (paths relative to ROOT, served at "/<rel>").
function(voicegate_embed_assets output root files)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DROOT=${root} "-DFILES=${files}"
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_assets_script.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed_assets_script.cmake
    COMMENT "Embedding web assets"
    VERBATIM)
endfunction()
