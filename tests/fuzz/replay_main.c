/* Replay driver: runs a fuzz target's entry function on every file named on the command line or found in the
 * directories named (the kept crash inputs of tests/fuzz/corpus/regressions/<target>/ and the seeds), so the normal
 * build and CTest check the fixed crashes without clang. Exit status 0 when every input returned. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
  FILE    *f = fopen(path, "rb");
  long     n;
  uint8_t *buf;
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) return 1;
  fclose(f);
  (void)LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  printf("replayed %s (%ld bytes)\n", path, n);
  return 0;
}

int main(int argc, char **argv)
{
  int count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb)) continue;
    if (S_ISDIR(sb.st_mode)) {
      DIR           *d = opendir(argv[i]);
      struct dirent *e;
      while (d && (e = readdir(d))) {
        char p[4096];
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
        if (replay_file(p)) return 1;
        count++;
      }
      if (d) closedir(d);
    } else {
      if (replay_file(argv[i])) return 1;
      count++;
    }
  }
  printf("%d inputs replayed\n", count);
  return 0;
}
