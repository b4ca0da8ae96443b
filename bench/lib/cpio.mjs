// A newc ("070701") cpio archive, the format the Linux kernel unpacks as an initramfs.
// Written by hand so the VM scenario needs no cpio tool.
import { lstat, readFile, readlink } from 'node:fs/promises';

function header(fields) {
  return `070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`;
}

function pad4(n) {
  return (4 - (n % 4)) % 4;
}

export class CpioWriter {
  constructor() {
    this.parts = [];
    this.ino = 1;
  }

  entry(name, mode, data = Buffer.alloc(0), rdevMajor = 0, rdevMinor = 0) {
    const nameBuf = Buffer.from(`${name}\0`);
    const head = header([
      this.ino++,
      mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      rdevMajor,
      rdevMinor,
      nameBuf.length,
      0,
    ]);
    this.parts.push(
      Buffer.from(head),
      nameBuf,
      Buffer.alloc(pad4(110 + nameBuf.length)),
      data,
      Buffer.alloc(pad4(data.length)),
    );
  }

  dir(name) {
    this.entry(name, 0o040755);
  }

  file(name, data, executable = false) {
    this.entry(name, executable ? 0o100755 : 0o100644, data);
  }

  charDevice(name, major, minor) {
    this.entry(name, 0o020600, Buffer.alloc(0), major, minor);
  }

  /** Copy a host file or symlink (as a symlink) into the archive under `name`. */
  async copy(name, hostPath) {
    const info = await lstat(hostPath);
    if (info.isSymbolicLink()) this.entry(name, 0o120777, Buffer.from(await readlink(hostPath)));
    else this.entry(name, 0o100000 | (info.mode & 0o7777), await readFile(hostPath));
  }

  finish() {
    this.entry('TRAILER!!!', 0);
    return Buffer.concat(this.parts);
  }
}
