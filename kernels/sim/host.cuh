// Portability layer between CUDA (NVRTC/nvcc) and the simulated device (host C++ compiler).
// Kernels declare shared memory with EMBER_SHARED / EMBER_DYNAMIC_SHARED and follow each kernel
// with EMBER_SIM_EXPORT(name); under CUDA these are the plain CUDA forms / nothing.
#pragma once
#ifdef __CUDACC__
#define EMBER_SIM_EXPORT(name)
#define EMBER_SHARED(T, name, N) __shared__ T name[N]
#define EMBER_DYNAMIC_SHARED(T, name)                                  \
    extern __shared__ __align__(16) unsigned char ember_dyn_smem_[];   \
    T* name = reinterpret_cast<T*>(ember_dyn_smem_)
#else
#include "emu.h"
#endif
