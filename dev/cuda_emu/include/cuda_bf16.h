// the CUDA emulator (dev/cuda_emu/cuda_emu.h) in place of the toolkit header
#include "../cuda_emu.h"
