// A refusal the build program reports to Kiln as `{ok: false, code, message}`; Kiln answers
// it as a 400 with that code (src/languages/node/build.ts lists the codes it passes on).
import path from 'node:path';

export class BuildError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Whether `p` is `dir` or below it (both absolute, normalized). */
export function inside(p, dir) {
  const rel = path.relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
