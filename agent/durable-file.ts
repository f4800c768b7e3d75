import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes a file so that a power cut leaves the old one or the new one, whole: written under
 * `temp` and synced, renamed into place, the folder synced. Readable by its owner only (the
 * update hand-off files, the checkpoint key).
 */
export function writeFileDurably(file: string, text: string, temp = `${file}.tmp`): void {
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  const dir = openSync(dirname(file), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
