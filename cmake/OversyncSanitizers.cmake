if(OVERSYNC_SANITIZE)
  add_compile_options(-fsanitize=${OVERSYNC_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OVERSYNC_SANITIZE})
  if(OVERSYNC_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)  # GCC 12 warns on Asio's atomic_thread_fence
  endif()
endif()
