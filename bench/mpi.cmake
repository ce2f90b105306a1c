# bench/mpi_allreduce: the allreduce time bench/run_mpi.sh's step-time model
# uses; only in -DMMGEN_MPI=ON builds.
if(MMGEN_MPI)
  add_executable(mpi_allreduce ${CMAKE_CURRENT_LIST_DIR}/mpi_allreduce.c)
  target_link_libraries(mpi_allreduce PRIVATE MPI::MPI_C)
endif()
