/* Fuzz target: the TIFF reader and the raw reader's size/type/header/crop validation (src/io/image.c).
 * Byte 0 picks the format (even: TIFF, odd: raw); for raw, bytes 1..6 give the declared size (1..16 per axis), the
 * sample type, the byte order and the header length; byte 7 asks for a crop drawn from bytes 8..13. The rest is the
 * file. Every input must give a volume or a clean error (no crash, leak or undefined behaviour). */
#include "fuzz_common.h"
#include <stochmorph/image.h>
#include <stochmorph/volume.h>
#include <stochmorph/grid.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *types[] = {"uint8", "uint16", "int16", "float32"};
  char        opts[512];
  const char *path;
  SMImageOptions o;
  SMVolume       vol = NULL;
  size_t         skip;

  sm_fuzz_init();
  if (size < 14) return 0;
  (void)PetscOptionsClear(NULL);
  if (data[0] % 2 == 0) {
    snprintf(opts, sizeof(opts), "-voxel_size 0.01");
    skip = 1;
  } else {
    snprintf(opts, sizeof(opts), "-voxel_size 0.01 -raw_size %d,%d,%d -raw_type %s -raw_endian %s -raw_header_bytes %d",
             1 + data[1] % 16, 1 + data[2] % 16, 1 + data[3] % 16, types[data[4] % 4], data[5] % 2 ? "big" : "little",
             data[6] % 64);
    skip = 14;
  }
  if (data[7] % 4 == 0) {
    char crop[96];
    snprintf(crop, sizeof(crop), " -crop %d:%d,%d:%d,%d:%d", data[8] % 20 - 2, data[9] % 20, data[10] % 20 - 2,
             data[11] % 20, data[12] % 20 - 2, data[13] % 20);
    strncat(opts, crop, sizeof(opts) - strlen(opts) - 1);
  }
  if (PetscOptionsInsertString(NULL, opts)) return 0;
  path = sm_fuzz_file(data + skip, size - skip, data[0] % 2 ? ".raw" : ".tif");
  if (!sm_image_options_default(&o) && !sm_image_options_set_from_options(PETSC_COMM_SELF, &o) &&
      !sm_image_read(PETSC_COMM_SELF, path, &o, &vol) && vol) {
    SMGrid g;
    (void)sm_volume_get_grid(vol, &g);
    (void)sm_volume_destroy(&vol);
    (void)sm_grid_destroy(&g);
  }
  (void)remove(path);
  return 0;
}
